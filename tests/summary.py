#!/usr/bin/env python3
"""Prints the closing line of `make check` from meson's test log:
'N passed, N failed, N skipped'. Exits 1 if anything failed or nothing ran."""
import json
import sys

passed = failed = skipped = 0
failures = []
with open(sys.argv[1]) as log:
    for line in log:
        line = line.strip()
        if not line:
            continue
        rec = json.loads(line)
        result = rec.get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append(rec.get("name", "?"))
for name in failures:
    print(f"FAILED: {name}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
