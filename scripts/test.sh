#!/usr/bin/env bash
# The test command: sets the machine up, builds every target and runs every test - plain, then
# under AddressSanitizer and UndefinedBehaviorSanitizer, then every fuzz target under libFuzzer
# for a bounded time (GEMMA_FUZZ_SECONDS per target, default 20). The last line is "N passed, N failed,
# N skipped" over all three runs; the exit status is non-zero on any failure.
#   scripts/test.sh                 everything
#   scripts/test.sh --quick         plain run only (no sanitizers)
#   scripts/test.sh -- //proto/...  plain run of some targets
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

configs=(default asan ubsan)
targets=(//...)
while (($#)); do
  case $1 in
    --quick) configs=(default) ;;
    --) shift; targets=("$@"); configs=(default); break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh </dev/null || { echo "0 passed, 1 failed"; exit 1; }
# Leave no Bazel server behind in CI; developers keep theirs warm.
[[ "${CI:-}" == "true" ]] && trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT

logs=$(mktemp -d)
total_passed=0 total_failed=0 total_skipped=0
for config in "${configs[@]}"; do
  flags=()
  [[ $config != default ]] && flags=(--config="$config")
  # CI runs every test; locally, results of unchanged tests come from Bazel's cache.
  test_flags=(--keep_going --noshow_progress)
  [[ "${CI:-}" == "true" ]] && test_flags+=(--nocache_test_results)
  echo "== bazel test ${flags[*]} ${targets[*]}"
  bazel test "${flags[@]}" "${test_flags[@]}" "${targets[@]}" </dev/null \
    >"$logs/$config.log" 2>&1
  grep -E "^(//|ERROR|FAILED|Executed)" "$logs/$config.log" | grep -v "^INFO" | head -200
  testlogs=$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)
  summary=$(/usr/bin/python3 scripts/count_test_results.py "$config" "$logs/$config.log" \
    "$testlogs")
  echo "$summary" | grep -v '^COUNTS'
  read -r _ p f s <<<"$(echo "$summary" | grep '^COUNTS')"
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
  total_skipped=$((total_skipped + s))
done
rm -rf "$logs"
# libFuzzer (clang-14) over every parser for a bounded time, with the full runs only.
if ((${#configs[@]} > 1)); then
  echo "== scripts/fuzz.sh --seconds=${GEMMA_FUZZ_SECONDS:-20}"
  summary=$(scripts/fuzz.sh --seconds="${GEMMA_FUZZ_SECONDS:-20}" 2>&1)
  echo "$summary" | grep -v '^COUNTS'
  read -r _ p f s <<<"$(echo "$summary" | grep '^COUNTS' || echo "COUNTS 0 1 0")"
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
fi
echo "${total_passed} passed, ${total_failed} failed, ${total_skipped} skipped"
((total_failed == 0))
