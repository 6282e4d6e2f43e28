#!/usr/bin/env python3
"""Checks that one run's reports agree with its JUnit file.

Usage: check_reports.py JUNIT RESULTS_JSON SUMMARY_MD REPORT_HTML

Counts each outcome (pass, warn, fail, skip, error) from the JUnit testcases' `outcome`
properties and requires the same counts in results.json (`counts`), in summary.md's counts
table (`| pass | N |`) and in report.html (`id="count-pass">N</td>`). Prints one line per
disagreement and exits 1 if there is any.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

OUTCOMES = ["pass", "warn", "fail", "skip", "error"]


def junit_counts(path):
    counts = dict.fromkeys(OUTCOMES, 0)
    for case in ET.parse(path).getroot().iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "outcome":
                counts[prop.get("value")] += 1
    counts["total"] = sum(counts[o] for o in OUTCOMES)
    return counts


def main(junit, results, summary, html):
    want = junit_counts(junit)
    problems = []
    got_json = json.load(open(results, encoding="utf-8"))["counts"]
    md = open(summary, encoding="utf-8").read()
    page = open(html, encoding="utf-8").read()
    for o, n in want.items():
        if got_json.get(o) != n:
            problems.append(f"results.json {o}: {got_json.get(o)}, JUnit {n}")
        if o != "total" and not re.search(rf"^\| {o} \| {n} \|", md, re.M):
            problems.append(f"summary.md has no '| {o} | {n} |' row (JUnit {o}: {n})")
        if f'id="count-{o}">{n}</td>' not in page:
            problems.append(f"report.html does not show {o} = {n} (JUnit)")
    for p in problems:
        print(p)
    if not problems:
        print("reports agree with JUnit: " + ", ".join(f"{o} {n}" for o, n in want.items()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
