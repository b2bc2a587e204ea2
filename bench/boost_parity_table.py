"""Markdown table of the built-in vs pyloss-profile prediction differences.

    PYLOSS_BOOST_PARITY=/tmp/parity.jsonl python -m pytest -q -p no:cacheprovider \\
        tests/test_integrations_boosting.py -k profile_reproduces
    python bench/boost_parity_table.py /tmp/parity.jsonl

The tests append one JSON line per (built-in, weighted) run: the largest
difference of the 30-round models' margins relative to their scale,
max|built - pyloss| / max|built|.
"""
import json
import sys


def main(path):
    rows = {}
    for line in open(path):
        r = json.loads(line)
        rows.setdefault((r["library"], r["builtin"]), {})[r["weighted"]] = r["rel_diff"]
    print("| library | built-in objective | unweighted | weighted |")
    print("|---|---|---|---|")
    for (lib, b), d in rows.items():
        print(f"| {lib} | `{b}` | {d.get(False, float('nan')):.1e} | {d.get(True, float('nan')):.1e} |")


if __name__ == "__main__":
    main(sys.argv[1])
