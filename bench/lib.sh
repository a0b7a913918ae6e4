# bench/lib.sh — the arithmetic every bench script's verdicts share; sourced, not run.
# Each script defines its own `log` and `die` (they name the script).

# ratio A B → A ÷ B to three places (0 when B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
# median VALUE… → the median (the mean of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# verdict VALUE OP LIMIT → PASS/FAIL (OP is >= or <=).
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=" ? v >= l : v <= l); print (ok ? "PASS" : "FAIL") }'; }
