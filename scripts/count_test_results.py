"""Counts test results of one `bazel test` run: test cases from each target's test.xml, and one
failure for each target that failed without a failing case (build error, crash, sanitizer report
at exit, timeout).

Usage: count_test_results.py LABEL BAZEL_OUTPUT_LOG TESTLOGS_DIR
Prints one line "LABEL: N passed, N failed, N skipped" and the failing targets; writes the three
numbers to stdout's last line as "COUNTS passed failed skipped" for scripts/test.sh to add up.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

STATUS = re.compile(r"^(//\S+)\s+(?:\(cached\)\s+)?(FAILED TO BUILD|PASSED|FAILED|FLAKY|TIMEOUT|NO STATUS|"
                    r"INCOMPLETE|REMOTE FAILURE)\b")


def case_counts(xml_path):
    root = ET.parse(xml_path).getroot()
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("result") == "skipped" or case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    label, log_path, testlogs = sys.argv[1:4]
    statuses = {}
    with open(log_path, errors="replace") as log:
        for line in log:
            match = STATUS.match(line.strip())
            if match:
                statuses[match.group(1)] = match.group(2)
    passed = failed = skipped = 0
    failing = []
    for target, status in sorted(statuses.items()):
        package, name = target[2:].split(":")
        xml_path = os.path.join(testlogs, package, name, "test.xml")
        p = f = s = 0
        if status in ("PASSED", "FAILED", "FLAKY", "TIMEOUT") and os.path.exists(xml_path):
            p, f, s = case_counts(xml_path)
        if status not in ("PASSED", "FLAKY") and f == 0:
            f = 1  # The target failed though no case did (or no case ran).
        if status in ("PASSED", "FLAKY") and p + f + s == 0:
            p = 1  # A passing target without case details counts once.
        if f:
            failing.append(f"{target} ({status})")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if not statuses:
        failing.append("no test target reported a status (did the build fail?)")
        failed += 1
    print(f"{label}: {passed} passed, {failed} failed, {skipped} skipped")
    for entry in failing:
        print(f"  failing: {entry}")
    print(f"COUNTS {passed} {failed} {skipped}")


if __name__ == "__main__":
    main()
