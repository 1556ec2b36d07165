#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang into build-fuzz/ and
# runs each for SECONDS (default 60) over a copy of its seed corpus.
#
#   tests/fuzz/run.sh [SECONDS]
#   FUZZ_TARGETS="http" tests/fuzz/run.sh 300     # only some targets
#
# A crash-*, leak-*, timeout-* or oom-* input found is copied into
# tests/fuzz/regressions/TARGET/ (the normal test suite replays that folder:
# fuzz@replay-TARGET), and the script then exits 1. A sanitizer report with no
# input to blame (a leak found at exit) also fails it, as does a fuzzer that
# exits non-zero. The checked-in corpora
# are never written: the fuzzer works on a copy in a temporary folder (kept,
# with the full log, when something was found). The executions per second and
# the total of each target come from libFuzzer's -print_final_stats.
set -euo pipefail

secs=${1:-60}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build-fuzz"
targets=${FUZZ_TARGETS:-http fixture}

# --- Tools: clang and its libFuzzer/sanitizer runtimes ---
need=()
command -v clang >/dev/null || need+=(clang)
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
if command -v clang >/dev/null; then
	fuzzer_rt=$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
	if [[ ! -f $fuzzer_rt ]]; then
		fuzzer_rt=$(find "$(clang -print-resource-dir)" -name 'libclang_rt.fuzzer*.a' 2>/dev/null | head -n1)
	fi
	if [[ -z $fuzzer_rt || ! -f $fuzzer_rt ]]; then
		major=$(clang -dumpversion | cut -d. -f1)
		need+=("libclang-rt-$major-dev")
	fi
fi
if ((${#need[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "fuzz: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
		exit 2
	fi
	echo "fuzz: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	# With clang just installed, its runtime may still be missing.
	if ! find "$(clang -print-resource-dir)" -name 'libclang_rt.fuzzer*.a' | grep -q .; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			"libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev" >/dev/null
	fi
fi

# --- Build ---
opts=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
      -Dc_args=-fsanitize=fuzzer-no-link -Dbuildtype=debugoptimized)
if [[ -f $build/build.ninja ]]; then
	meson configure "$build" "${opts[@]}" >/dev/null
else
	CC=clang meson setup "$build" "$root" "${opts[@]}" >/dev/null
fi
bins=()
for t in $targets; do bins+=("tests/fuzz/fuzz_$t" "tests/fuzz/fuzz_replay_$t"); done
ninja -C "$build" "${bins[@]}" >/dev/null

# --- Run ---
# UBSan halts, so libFuzzer keeps the input; ASan's leak check stays on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=0
summary=()
for t in $targets; do
	bin="$build/tests/fuzz/fuzz_$t"
	work=$(mktemp -d "${TMPDIR:-/tmp}/invent-mock-fuzz-$t.XXXXXX")
	mkdir -p "$work/corpus" "$work/artifacts"
	cp "$here/corpus_$t"/* "$work/corpus/"
	extra=()
	[[ -f $here/$t.dict ]] && extra+=("-dict=$here/$t.dict")
	# libFuzzer's leak check after each input runs LeakSanitizer over the whole
	# heap whenever an input ends with more mallocs than frees, which the
	# server's threads (freeing a connection after the answer left) make the
	# rule: fuzz_http ran 8 times slower with it. So for http, leaks are looked
	# for once, at exit (a leak then fails the run, with no input to blame:
	# replay the kept corpus with build-fuzz/tests/fuzz/fuzz_replay_http to find
	# it). FUZZ_LEAKS_EACH_INPUT=1 turns the per-input check back on.
	if [[ $t == http && ${FUZZ_LEAKS_EACH_INPUT:-0} != 1 ]]; then
		extra+=(-detect_leaks=0)
	fi
	echo "fuzz: $t for ${secs}s (work dir $work)"
	rc=0
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 \
		-artifact_prefix="$work/artifacts/" "${extra[@]}" "$work/corpus" >"$work/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n1)
	added=$(sed -n 's/^stat::new_units_added: *//p' "$work/log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n1 | cut -d' ' -f2)
	found=()
	for a in "$work/artifacts"/crash-* "$work/artifacts"/leak-* "$work/artifacts"/timeout-* \
		 "$work/artifacts"/oom-*; do
		[[ -f $a ]] || continue
		mkdir -p "$here/regressions/$t"
		cp "$a" "$here/regressions/$t/"
		found+=("tests/fuzz/regressions/$t/$(basename "$a")")
	done
	line="$t: ${execs:-?} executions, ${rate:-?} exec/s, coverage ${cov:-?}, ${added:-?} new inputs"
	if ((${#found[@]})) || ((rc != 0)) || grep -q 'ERROR: \(Address\|Leak\|UndefinedBehavior\)Sanitizer\|runtime error:' "$work/log"; then
		failed=1
		line+=" -- FOUND A BUG (exit $rc)"
		echo "fuzz: $t found something; the report (full log: $work/log):" >&2
		grep -m1 -A40 'ERROR: \|runtime error:\|deadly signal\|fuzz_http: ' "$work/log" >&2 || tail -n 40 "$work/log" >&2
		for f in "${found[@]}"; do echo "fuzz: input kept as $f" >&2; done
	else
		rm -rf "$work"
	fi
	summary+=("$line")
done

echo "fuzz: summary (${secs}s each)"
for l in "${summary[@]}"; do echo "  $l"; done
exit "$failed"
