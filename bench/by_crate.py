"""Sums a flat `perf report --sort sym` by crate: reads lines `  12.34%  [.] sym` on stdin."""
import re
import sys
from collections import defaultdict

totals = defaultdict(float)
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, kind, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    if kind == "k":
        totals["kernel"] += pct
        continue
    sym = re.sub(r"^<", "", sym)
    crate = re.split(r"::|<| ", sym, maxsplit=1)[0] or "?"
    if crate.startswith("0x"):
        crate = "unknown"
    totals[crate] += pct
for crate, pct in sorted(totals.items(), key=lambda kv: -kv[1])[:25]:
    print(f"{pct:6.2f}%  {crate}")
