#!/usr/bin/env python3
"""Parses a JUnit XML file with xml.etree and prints its counts as one line:
   testsuites=N testcases=N failures=N skipped=N tests_attr=N failures_attr=N
and, per testcase, "case CLASSNAME|NAME|pass|failure|skipped". Exit 1 if it does not parse."""
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:  # any parse error
    print("parse error:", e)
    sys.exit(1)
suites = root.findall("testsuite")
cases = root.findall("./testsuite/testcase")
fails = sum(1 for c in cases if c.find("failure") is not None)
skips = sum(1 for c in cases if c.find("skipped") is not None)
print("root=%s testsuites=%d testcases=%d failures=%d skipped=%d tests_attr=%s failures_attr=%s" % (
    root.tag, len(suites), len(cases), fails, skips, root.get("tests"), root.get("failures")))
for c in cases:
    st = "failure" if c.find("failure") is not None else "skipped" if c.find("skipped") is not None else "pass"
    print("case %s|%s|%s" % (c.get("classname"), c.get("name"), st))
