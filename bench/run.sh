#!/usr/bin/env bash
# Benchmarks invent-mock. Run from the project root:
#
#   bash bench/run.sh [all|ready|patch|list|reset]      (default: all)
#
# Installs what is missing (Debian packages), builds a release binary in
# build-release/, writes a bench fixture into a temp dir, runs the selected
# benchmarks and prints a report on stdout (progress goes to stderr).
# Nothing is written outside build-release/ and the temp dir.
#
# Environment:
#   BENCH_SECONDS      seconds per wrk run (default 10)
#   BENCH_CONTACTS     contacts in the fixture, also read by bench/patch.lua (default 1000)
#   BENCH_CONNECTIONS  wrk connection counts (default "1 16 64")
#   BENCH_WARMUP       seconds of discarded wrk warm-up before the patch runs (default 1; 0: none)
#   BENCH_PATCH        what each PATCH changes: blocked (default), or name (bench/patch.lua)
#   BENCH_READY_RUNS   server starts per ready-time case (default 20)
#   BENCH_SERVER_ARGS  extra server arguments, word-split (e.g. "--threads 2")
#   BENCH_LIST_CONTACTS contacts in the list benchmark's org (default 100000)
#   BENCH_LIST_SECONDS seconds per list query (default 3)
#   BENCH_CEILING      1 (default): beside each patch run, the same wrk run against
#                      build-release/mhd-ceiling (bench/ceiling.c); 0: not
#   BENCH_VERBOSE=1    also print wrk's raw output
#   BENCH_WALBUF_ROUNDS rounds of the walbuf benchmark (default 3)
#   BENCH_EVENTS_ROUNDS rounds of the events benchmark (default 3)
#
# Not in "all": bash bench/run.sh walbuf (what server/walbuf.c gains: PATCH at 16
# and 64 connections through it and through SQLite's own writes, alternating).
# bash bench/run.sh lists: every list query of issue 13 at 4 connections on one
# org of BENCH_LISTS_SIZES contacts (bench/make_fixture.py --people), p50/p99;
# with BENCH_BASE_BIN (a release build of another commit) each query runs on
# it too, alternating, and the report gives this build's p50 over the base's.
# bash bench/run.sh events (PATCH with 5 consoles reading GET /__admin/events
# against none, alternating on one server).
#
# Adding a benchmark: write bench_NAME (it may call start_server/stop_server
# and must append its summary to "$TMP/report-NAME.txt"), add NAME to
# BENCHES, and to REPORT_ORDER where its section belongs.
set -euo pipefail

BENCHES=(ready patch list reset)          # what "all" runs, in this order
EXTRA_BENCHES=(walbuf lists events)       # run only by name
REPORT_ORDER=(patch walbuf events ready rss list lists reset) # report sections, in print order

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CONTACTS=${BENCH_CONTACTS:-1000}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-"1 16 64"}
BENCH_WARMUP=${BENCH_WARMUP:-1}
BENCH_READY_RUNS=${BENCH_READY_RUNS:-20}
BENCH_SERVER_ARGS=${BENCH_SERVER_ARGS:-}
BENCH_VERBOSE=${BENCH_VERBOSE:-0}
BENCH_CEILING=${BENCH_CEILING:-1}
BENCH_LIST_CONTACTS=${BENCH_LIST_CONTACTS:-100000}
BENCH_LIST_SECONDS=${BENCH_LIST_SECONDS:-3}
BENCH_WALBUF_ROUNDS=${BENCH_WALBUF_ROUNDS:-3}
BENCH_LISTS_SIZES=${BENCH_LISTS_SIZES:-"1000 10000 100000"}
BENCH_BASE_BIN=${BENCH_BASE_BIN:-}
BENCH_EVENTS_ROUNDS=${BENCH_EVENTS_ROUNDS:-3}
export BENCH_CONTACTS
export BENCH_KEY=sk_bench

BUILD_DIR=build-release
BIN=$BUILD_DIR/invent-mock
CEILING_BIN=$BUILD_DIR/mhd-ceiling
TMP=
SERVER_PID=
SERVER_PORT=
WRK_PID=
CEILING_PID=
CEILING_PORT=
READERS_PID=
PROBLEMS=0

log() { printf '%s\n' "$*" >&2; }
problem() {
	PROBLEMS=$((PROBLEMS + 1))
	printf 'PROBLEM: %s\n' "$*" >>"$TMP/problems.txt"
	log "PROBLEM: $*"
}
die() {
	log "bench/run.sh: $*"
	exit 1
}

cleanup() {
	local rc=$?
	if [[ -n $WRK_PID ]]; then
		kill -TERM "$WRK_PID" 2>/dev/null || true # timeout(1), which passes it on to wrk
		wait "$WRK_PID" 2>/dev/null || true
	fi
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ -n $CEILING_PID ]]; then
		kill -TERM "$CEILING_PID" 2>/dev/null || true
		wait "$CEILING_PID" 2>/dev/null || true
	fi
	if [[ -n $READERS_PID ]]; then
		kill -TERM "$READERS_PID" 2>/dev/null || true
		wait "$READERS_PID" 2>/dev/null || true
	fi
	if [[ -n $TMP && -d $TMP ]]; then rm -rf -- "$TMP"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

usage() {
	log "usage: bash bench/run.sh [all|$(
		IFS='|'
		echo "${BENCHES[*]} ${EXTRA_BENCHES[*]}"
	)]"
	exit 2
}

# --- setup -------------------------------------------------------------------

ensure_deps() {
	local -a missing=()
	local cmd pkg mod
	# command -> Debian package
	for pair in wrk:wrk meson:meson ninja:ninja-build pkg-config:pkg-config \
		python3:python3 cc:gcc; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	# pkg-config module -> Debian package (all of them if pkg-config itself is missing)
	for pair in libmicrohttpd:libmicrohttpd-dev libcjson:libcjson-dev sqlite3:libsqlite3-dev; do
		mod=${pair%%:*} pkg=${pair#*:}
		if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$mod"; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	log "installing: ${missing[*]}"
	local sudo=
	((EUID == 0)) || sudo=sudo
	$sudo apt-get update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

build_release() {
	if [[ ! -f $BUILD_DIR/build.ninja ]]; then
		meson setup "$BUILD_DIR" --buildtype=release >&2
	fi
	local bt
	bt=$(meson introspect --buildoptions "$BUILD_DIR" |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))')
	if [[ $bt != release ]]; then
		log "$BUILD_DIR has buildtype $bt; switching it to release"
		meson configure "$BUILD_DIR" -Dbuildtype=release >&2
	fi
	ninja -C "$BUILD_DIR" >&2
	[[ -x $BIN ]] || die "$BIN was not built"
	[[ -x $CEILING_BIN ]] || die "$CEILING_BIN was not built"
}

# make_fixture N: writes the fixture for N contacts once and prints its path.
make_fixture() {
	local n=$1 out=$TMP/fixture-$1.json
	[[ -f $out ]] || python3 bench/make_fixture.py --contacts "$n" --out "$out"
	printf '%s\n' "$out"
}

# --- server ------------------------------------------------------------------

# ready_port NAME PID: waits (30 s at most) for the ready line that process PID
# prints into $TMP/NAME.out and prints its port; on failure, logs why (with
# $TMP/NAME.err) and returns 1.
ready_port() {
	local name=$1 pid=$2 line=
	for _ in $(seq 300); do
		line=$(head -n1 "$TMP/$name.out")
		[[ -n $line ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -z $line ]]; then
		log "$(cat "$TMP/$name.err")"
		log "$name printed no ready line"
		return 1
	fi
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["event"]=="ready"; print(r["port"])' "$line" ||
		{ log "$name: bad ready line: $line"; return 1; }
}

# start_server FIXTURE DB: starts the server on port 0 in the background and
# sets SERVER_PID and SERVER_PORT from its ready line.
start_server() {
	local fixture=$1 db=$2
	[[ -z $SERVER_PID ]] || die "start_server: a server is already running"
	# shellcheck disable=SC2086  # BENCH_SERVER_ARGS is meant to be word-split
	"$BIN" --port 0 --db "$db" ${fixture:+--fixtures "$fixture"} --log off $BENCH_SERVER_ARGS \
		</dev/null >"$TMP/server.out" 2>"$TMP/server.err" &
	SERVER_PID=$!
	SERVER_PORT=$(ready_port server "$SERVER_PID") || die "the server did not start"
}

# stop_server: SIGTERM, wait, and complain about a bad exit or stderr output.
stop_server() {
	[[ -n $SERVER_PID ]] || return 0
	local rc=0
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		for _ in $(seq 100); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			problem "server still running 10 s after SIGTERM; killed"
			kill -KILL "$SERVER_PID" 2>/dev/null || true
		fi
	else
		problem "server (pid $SERVER_PID) had died before SIGTERM"
	fi
	wait "$SERVER_PID" || rc=$?
	((rc == 0)) || problem "server exit status $rc"
	if [[ -s $TMP/server.err ]]; then
		problem "server stderr: $(head -c 2000 "$TMP/server.err")"
	fi
	SERVER_PID='' SERVER_PORT=''
}

server_alive() { [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

# start_ceiling BODY_FILE: starts mhd-ceiling answering with BODY_FILE's bytes
# and sets CEILING_PID and CEILING_PORT.
start_ceiling() {
	"$CEILING_BIN" "$1" </dev/null >"$TMP/ceiling.out" 2>"$TMP/ceiling.err" &
	CEILING_PID=$!
	CEILING_PORT=$(ready_port ceiling "$CEILING_PID") || die "mhd-ceiling did not start"
}

stop_ceiling() {
	[[ -n $CEILING_PID ]] || return 0
	kill -0 "$CEILING_PID" 2>/dev/null || problem "mhd-ceiling had died before SIGTERM"
	kill -TERM "$CEILING_PID" 2>/dev/null || true
	wait "$CEILING_PID" 2>/dev/null || true
	[[ -s $TMP/ceiling.err ]] && problem "mhd-ceiling stderr: $(head -c 2000 "$TMP/ceiling.err")"
	CEILING_PID='' CEILING_PORT=''
}

# proc_cpu_ticks, proc_writes: the server's user+system CPU time (clock ticks)
# and write-like system calls so far (/proc/PID/stat, /proc/PID/io).
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
proc_writes() { awk '$1 == "syscw:" { print $2 }' "/proc/$SERVER_PID/io"; }

# proc_kb FIELD: a kB field of the server's /proc/PID/status (VmRSS, VmHWM).
proc_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }
kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# --- wrk ---------------------------------------------------------------------

# run_wrk NAME CONNECTIONS SECONDS SCRIPT [PORT]: runs wrk against the server
# (or whatever listens on PORT) and leaves its output in $TMP/wrk-NAME.txt.
run_wrk() {
	local name=$1 conns=$2 secs=$3 script=$4 port=${5:-$SERVER_PORT} out=$TMP/wrk-$1.txt rc=0
	# In the background and waited for, so that a SIGTERM or SIGINT to this
	# script runs the cleanup trap at once instead of after wrk's -d. wrk's own
	# 2 s timeout would drop, rather than measure, the slowest list queries
	# (16 of them queued on the store thread).
	timeout -k 5 $((secs + 30)) \
		wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s --latency -s "$script" \
		"http://127.0.0.1:$port" \
		>"$out" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID" || rc=$?
	WRK_PID=''
	((rc == 0)) || problem "wrk $name exited with status $rc"
	if [[ $BENCH_VERBOSE == 1 ]]; then sed 's/^/    | /' "$out" >&2; fi
}

# parse_wrk FILE: prints "rps p50_ms p99_ms non2xx requests socket_errors".
# Latencies are converted to ms; socket_errors is "-" when wrk printed none.
parse_wrk() {
	awk '
	function ms(v,   n) {
		n = v + 0
		if (v ~ /us$/) return n / 1000
		if (v ~ /ms$/) return n
		if (v ~ /m$/) return n * 60000
		if (v ~ /s$/) return n * 1000
		return n
	}
	/Latency Distribution/ { dist = 1; next }
	dist && $1 == "50%" { p50 = ms($2) }
	dist && $1 == "99%" { p99 = ms($2); dist = 0 }
	/requests in/ { reqs = $1 }
	/Non-2xx or 3xx responses:/ { non2xx = $NF }
	/Socket errors:/ { sub(/^ *Socket errors: */, ""); gsub(/, /, ","); gsub(/ /, "="); sock = $0 }
	/Requests\/sec:/ { rps = $2 }
	END {
		printf "%s %.3f %.3f %d %s %s\n", (rps == "" ? "0" : rps), p50, p99, non2xx + 0,
			(reqs == "" ? 0 : reqs), (sock == "" ? "-" : sock)
	}' "$1"
}

# --- benchmarks --------------------------------------------------------------

bench_ready() {
	local fixture out=$TMP/report-ready.txt rc=0 mode label fix
	fixture=$(make_fixture "$BENCH_CONTACTS")
	mkdir -p "$TMP/ready"
	echo "ready time (exec -> ready line; $BENCH_READY_RUNS starts each):" >"$out"
	# The demo data is what a test suite starts with; the larger fixture shows
	# what loading costs.
	for run in "demo memory" "demo fresh" "demo existing" "big fresh" "big existing"; do
		set -- $run
		label=$1 mode=$2 fix=()
		[[ $label == big ]] && fix=(--fixtures "$fixture")
		[[ $label == big && $mode == fresh ]] && rm -f "$TMP"/ready/ready-*.db*
		log "ready: $BENCH_READY_RUNS starts, $label data, $mode db"
		rc=0
		# shellcheck disable=SC2086
		python3 bench/ready_time.py --bin "$BIN" "${fix[@]}" --dir "$TMP/ready" \
			--mode "$mode" --runs "$BENCH_READY_RUNS" -- $BENCH_SERVER_ARGS \
			>"$TMP/ready-$label-$mode.txt" 2>"$TMP/ready-$label-$mode.err" || rc=$?
		[[ $label == big ]] && label="$BENCH_CONTACTS contacts" || label="demo data"
		awk -v l="$label" '{ printf "  %-14s %-9s %s\n", l ",", $1 " db:", substr($0, length($1) + 2) }' \
			"$TMP/ready-$1-$mode.txt" >>"$out"
		if ((rc != 0)) || [[ -s $TMP/ready-$1-$mode.err ]]; then
			while IFS= read -r l; do problem "$l"; done <"$TMP/ready-$1-$mode.err"
			((rc == 0)) || problem "ready_time.py ($1 $mode) exited with status $rc"
		fi
	done
}

bench_patch() {
	local fixture out=$TMP/report-patch.txt c rps p50 p99 non2xx reqs sock
	local rss_idle rss_after hwm
	fixture=$(make_fixture "$BENCH_CONTACTS")
	start_server "$fixture" "$TMP/patch.db"
	rss_idle=$(proc_kb VmRSS)
	log "patch: server pid $SERVER_PID on port $SERVER_PORT"

	# One PATCH by hand first: a wrong key or id would make every wrk request a
	# 4xx and the figures meaningless.
	local status
	status=$(python3 - "$SERVER_PORT" "$TMP/patch-answer.json" <<-'PY'
		import sys, urllib.request, urllib.error
		req = urllib.request.Request(
		    "http://127.0.0.1:%s/orgs/c/contacts/ct_0" % sys.argv[1], method="PATCH",
		    data=b'{"blocked":false}',
		    headers={"Authorization": "Bearer sk_bench", "Content-Type": "application/json"})
		try:
		    with urllib.request.urlopen(req, timeout=10) as r:
		        with open(sys.argv[2], "wb") as f:
		            f.write(r.read())
		        print(r.status)
		except urllib.error.HTTPError as e:
		    print("%d %s" % (e.code, e.read()[:300].decode("utf-8", "replace")))
		except Exception as e:
		    print("error %s" % e)
		PY
	)
	[[ $status == 200 ]] || problem "sanity PATCH /orgs/c/contacts/ct_0 answered: $status"

	if ((BENCH_WARMUP > 0)); then
		log "patch: ${BENCH_WARMUP}s warm-up"
		run_wrk warmup 16 "$BENCH_WARMUP" bench/patch.lua
	fi

	{
		echo "PATCH /orgs/c/contacts/ct_i, each a change of ${BENCH_PATCH:-blocked} (wrk -t1, ${BENCH_SECONDS}s each, $BENCH_CONTACTS contacts):"
		printf '  %5s %11s %9s %9s %8s\n' conns req/s p50_ms p99_ms non-2xx
	} >"$out"
	# The ceiling runs right after invent-mock at each connection count, so the
	# two see the same machine; their ratio says more than either figure alone
	# on a shared host whose speed drifts from day to day.
	local ceiling=0 rows=$TMP/report-ceiling-rows.txt crps cp50 cp99 cnon2xx creqs csock
	if ((BENCH_CEILING)) && [[ -s $TMP/patch-answer.json ]]; then
		start_ceiling "$TMP/patch-answer.json"
		ceiling=1
		{
			echo "ceiling, same run: bench/ceiling.c, libmicrohttpd suspending and resuming each PATCH with no work between:"
			printf '  %5s %11s %9s %9s %20s\n' conns req/s p50_ms p99_ms "invent-mock's share"
		} >"$rows"
	fi
	for c in $BENCH_CONNECTIONS; do
		log "patch: wrk -c$c -d${BENCH_SECONDS}s"
		run_wrk "patch-c$c" "$c" "$BENCH_SECONDS" bench/patch.lua
		read -r rps p50 p99 non2xx reqs sock < <(parse_wrk "$TMP/wrk-patch-c$c.txt")
		printf '  %5s %11s %9s %9s %8s\n' "$c" "$rps" "$p50" "$p99" "$non2xx" >>"$out"
		[[ $reqs != 0 ]] || problem "wrk -c$c completed no requests"
		((non2xx == 0)) || problem "wrk -c$c: $non2xx non-2xx/3xx answers of $reqs"
		[[ $sock == - ]] || problem "wrk -c$c: socket errors $sock"
		if [[ $non2xx != 0 || $sock != - || $reqs == 0 ]] && [[ $BENCH_VERBOSE != 1 ]]; then
			sed 's/^/    | /' "$TMP/wrk-patch-c$c.txt" >&2
		fi
		if ! server_alive; then
			problem "the server died during wrk -c$c"
			break
		fi
		if ((ceiling)); then
			log "patch: wrk -c$c -d${BENCH_SECONDS}s against mhd-ceiling"
			run_wrk "ceiling-c$c" "$c" "$BENCH_SECONDS" bench/patch.lua "$CEILING_PORT"
			read -r crps cp50 cp99 cnon2xx creqs csock < <(parse_wrk "$TMP/wrk-ceiling-c$c.txt")
			printf '  %5s %11s %9s %9s %19s\n' "$c" "$crps" "$cp50" "$cp99" \
				"$(awk -v a="$rps" -v b="$crps" 'BEGIN { printf "%.0f%%", (b > 0 ? 100 * a / b : 0) }')" >>"$rows"
			[[ $creqs != 0 && $cnon2xx == 0 && $csock == - ]] ||
				problem "mhd-ceiling -c$c: $creqs requests, $cnon2xx non-2xx, socket errors $csock"
		fi
	done
	if ((ceiling)); then
		stop_ceiling
		cat "$rows" >>"$out"
	fi

	if server_alive; then
		rss_after=$(proc_kb VmRSS)
		hwm=$(proc_kb VmHWM)
		# Every PATCH must have been a real change (an UPDATE and a WAL write):
		# the journal's contact_before is null for one that changed nothing.
		local unchanged
		unchanged=$(python3 - "$SERVER_PORT" <<-'PY'
			import json, sys, urllib.request
			url = "http://127.0.0.1:%s/__admin/requests?method=PATCH&limit=1000" % sys.argv[1]
			with urllib.request.urlopen(url, timeout=30) as r:
			    entries = json.load(r)
			print(sum(1 for e in entries if e["contact_before"] is None), len(entries))
			PY
		) || unchanged="? ?"
		read -r n_same n_seen <<<"$unchanged"
		[[ $n_same == 0 && $n_seen != 0 ]] ||
			problem "of the last $n_seen PATCHes, $n_same changed nothing (the figures are not of writes)"
		{
			echo "server memory (patch server, $BENCH_CONTACTS contacts):"
			echo "  RSS after start: $(kb_to_mb "$rss_idle") MB, after the runs: $(kb_to_mb "$rss_after") MB, peak (VmHWM): $(kb_to_mb "$hwm") MB"
		} >"$TMP/report-rss.txt"
	fi
	stop_server
}

# What server/walbuf.c gains: PATCH at 16 and 64 connections through the
# release build and through one whose WAL writes are SQLite's own (meson
# -Dwalbuf=false, in build-release-nowalbuf/), BENCH_WALBUF_ROUNDS rounds of the
# two in turn, each on a fresh database, so both see the same machine.
bench_walbuf() {
	local plain=build-release-nowalbuf out=$TMP/report-walbuf.txt rows=$TMP/walbuf-rows.txt
	local fixture round label c rps p50 p99 non2xx reqs sock ours=$BIN cpu0 cpu1 writes0 writes1
	if [[ ! -f $plain/build.ninja ]]; then
		meson setup "$plain" --buildtype=release -Dwalbuf=false >&2
	fi
	ninja -C "$plain" invent-mock >&2
	fixture=$(make_fixture "$BENCH_CONTACTS")
	: >"$rows"
	for round in $(seq "$BENCH_WALBUF_ROUNDS"); do
		for label in walbuf sqlite; do
			local BIN=$ours # start_server runs $BIN
			[[ $label == sqlite ]] && BIN=$plain/invent-mock
			rm -f "$TMP"/walbuf.db*
			start_server "$fixture" "$TMP/walbuf.db"
			for c in 16 64; do
				log "walbuf: round $round, $label, wrk -c$c -d${BENCH_SECONDS}s"
				# The server's CPU time and write() calls around the run, per
				# PATCH: steadier than req/s on a shared machine.
				cpu0=$(proc_cpu_ticks) writes0=$(proc_writes)
				run_wrk "walbuf-$label-$round-c$c" "$c" "$BENCH_SECONDS" bench/patch.lua
				cpu1=$(proc_cpu_ticks) writes1=$(proc_writes)
				read -r rps p50 p99 non2xx reqs sock < <(parse_wrk "$TMP/wrk-walbuf-$label-$round-c$c.txt")
				[[ $reqs != 0 && $non2xx == 0 && $sock == - ]] ||
					problem "walbuf ($label) -c$c: $reqs requests, $non2xx non-2xx, socket errors $sock"
				echo "$label $c $rps $p99 $(awk -v t=$((cpu1 - cpu0)) -v w=$((writes1 - writes0)) \
					-v n="$reqs" -v hz="$(getconf CLK_TCK)" \
					'BEGIN { printf "%.1f %.2f", (n ? t / hz * 1e6 / n : 0), (n ? w / n : 0) }')" >>"$rows"
			done
			stop_server
		done
	done
	{
		echo "WAL writes (PATCH, ${BENCH_SECONDS}s runs, $BENCH_WALBUF_ROUNDS rounds alternating, medians):"
		printf '  %5s %14s %14s %12s %12s %8s %18s %18s\n' conns "walbuf req/s" "sqlite req/s" \
			"walbuf p99" "sqlite p99" gain "CPU us/PATCH w/s" "write()s/PATCH w/s"
		for c in 16 64; do
			awk -v c="$c" '
			function median(a, n,   i, j, t) {
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
				return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			}
			$2 == c && $1 == "walbuf" { wr[++nw] = $3; wp[nw] = $4; wc[nw] = $5; ww[nw] = $6 }
			$2 == c && $1 == "sqlite" { sr[++ns] = $3; sp[ns] = $4; sc[ns] = $5; sw[ns] = $6 }
			END {
				a = median(wr, nw); b = median(sr, ns)
				printf "  %5s %14.0f %14.0f %10.2fms %10.2fms %7.0f%% %8.1f / %-7.1f %8.2f / %-7.2f\n", c, a, b,
					median(wp, nw), median(sp, ns), (b > 0 ? 100 * (a - b) / b : 0),
					median(wc, nw), median(sc, ns), median(ww, nw), median(sw, ns)
			}' "$rows"
		done
		echo "  each run, in order (req/s):"
		for label in walbuf sqlite; do
			for c in 16 64; do
				printf '    %-6s -c%-3s %s\n' "$label" "$c" \
					"$(awk -v l="$label" -v c="$c" '$1 == l && $2 == c { printf "%s%.0f", (n++ ? ", " : ""), $3 }' "$rows")"
			done
		done
	} >"$out"
}

# PATCH with 5 consoles open (bench/sse_readers.py reading GET /__admin/events,
# each getting an event per PATCH) against none, on one server, the two
# alternating BENCH_EVENTS_ROUNDS times; -c16.
bench_events() {
	local out=$TMP/report-events.txt rows=$TMP/events-rows.txt fixture round label
	local rps p50 p99 non2xx reqs sock cpu0 cpu1 got
	fixture=$(make_fixture "$BENCH_CONTACTS")
	: >"$rows"
	start_server "$fixture" "$TMP/events.db"
	local up0 up1
	up0=$(uptime)
	for round in $(seq "$BENCH_EVENTS_ROUNDS"); do
		for label in none five; do
			if [[ $label == five ]]; then
				python3 bench/sse_readers.py --port "$SERVER_PORT" --n 5 \
					>"$TMP/readers.out" 2>"$TMP/readers.err" &
				READERS_PID=$!
				for _ in $(seq 100); do
					[[ -s $TMP/readers.out ]] && break
					sleep 0.1
				done
				[[ $(head -n1 "$TMP/readers.out") == ready ]] ||
					die "the event readers did not start: $(cat "$TMP/readers.err")"
			fi
			log "events: round $round, $label, wrk -c16 -d${BENCH_SECONDS}s"
			cpu0=$(proc_cpu_ticks)
			run_wrk "events-$label-$round" 16 "$BENCH_SECONDS" bench/patch.lua
			cpu1=$(proc_cpu_ticks)
			read -r rps p50 p99 non2xx reqs sock < <(parse_wrk "$TMP/wrk-events-$label-$round.txt")
			[[ $reqs != 0 && $non2xx == 0 && $sock == - ]] ||
				problem "events ($label) -c16: $reqs requests, $non2xx non-2xx, socket errors $sock"
			got=-
			if [[ $label == five ]]; then
				sleep 3 # the last events on their way
				kill -TERM "$READERS_PID"
				wait "$READERS_PID" || problem "the event readers failed: $(cat "$TMP/readers.err")"
				READERS_PID=''
				got=$(awk '$1 == "events" { print $2 }' "$TMP/readers.out")
				# Each reader gets every PATCH (and the warm-up of none).
				((got >= 5 * reqs)) || problem "events: 5 readers got $got events for $reqs PATCHes"
			fi
			echo "$label $rps $p99 $(awk -v t=$((cpu1 - cpu0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
				'BEGIN { printf "%.1f", (n ? t / hz * 1e6 / n : 0) }') $got $reqs" >>"$rows"
		done
	done
	up1=$(uptime)
	stop_server
	{
		echo "PATCH with 5 event-stream subscribers against none (one server, -c16, ${BENCH_SECONDS}s runs, $BENCH_EVENTS_ROUNDS rounds alternating, medians):"
		awk '
		function median(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		$1 == "none" { nr[++nn] = $2; np[nn] = $3; nc[nn] = $4 }
		$1 == "five" { fr[++nf] = $2; fp[nf] = $3; fc[nf] = $4 }
		END {
			a = median(nr, nn); b = median(fr, nf)
			printf "  %-14s %9s %9s %16s\n", "", "req/s", "p99", "server CPU us/PATCH"
			printf "  %-14s %9.0f %7.2fms %16.1f\n", "no subscriber", a, median(np, nn), median(nc, nn)
			printf "  %-14s %9.0f %7.2fms %16.1f\n", "5 subscribers", b, median(fp, nf), median(fc, nf)
			printf "  ratio (5 / none): %.2f\n", (a > 0 ? b / a : 0)
		}' "$rows"
		echo "  each run, in order (label req/s p99_ms cpu_us events_received requests):"
		sed 's/^/    /' "$rows"
		echo "  uptime before: $up0"
		echo "  uptime after:  $up1"
	} >"$out"
}

# A page of 100 out of BENCH_LIST_CONTACTS contacts of one org, for each kind of
# filter: the index behind each is shown by tests/test_store.c.
bench_list() {
	local fixture out=$TMP/report-list.txt q rps p50 p99 non2xx reqs sock t0 t1
	local -a queries=(
		"/orgs/c/contacts?take=100"
		"/orgs/c/contacts?take=100&page=500"
		"/orgs/c/contacts?status=BLOCKED&take=100"
		"/orgs/c/contacts?status=UNSUBSCRIBED&take=100&page=3"
		"/orgs/c/contacts?segment_id=seg_bench_b&take=100"
		"/orgs/c/contacts?user_id=%2B15550004242"
		"/orgs/c/contacts?name=Contact%204242&take=100"
		"/orgs/c/contacts?search=bench%20contact%2099&take=100"
	)
	fixture=$(make_fixture "$BENCH_LIST_CONTACTS")
	t0=$(date +%s%N)
	start_server "$fixture" "$TMP/list.db"
	t1=$(date +%s%N)
	log "list: server pid $SERVER_PID on port $SERVER_PORT ($BENCH_LIST_CONTACTS contacts loaded)"
	{
		echo "GET list, page of 100 from $BENCH_LIST_CONTACTS contacts (wrk -t1 -c16, ${BENCH_LIST_SECONDS}s each):"
		echo "  start-up with a fresh db (parse, validate and load the fixture): $(((t1 - t0) / 1000000)) ms"
		printf '  %-58s %9s %9s %9s\n' query req/s p50_ms p99_ms
	} >"$out"
	for q in "${queries[@]}"; do
		log "list: $q"
		BENCH_PATH=$q run_wrk "list" 16 "$BENCH_LIST_SECONDS" bench/get.lua
		read -r rps p50 p99 non2xx reqs sock < <(parse_wrk "$TMP/wrk-list.txt")
		printf '  %-58s %9s %9s %9s\n' "$q" "$rps" "$p50" "$p99" >>"$out"
		((non2xx == 0)) || problem "list $q: $non2xx non-2xx answers of $reqs"
		[[ $sock == - ]] || problem "list $q: socket errors $sock"
		server_alive || { problem "the server died during list $q"; break; }
	done
	stop_server
}

# lists: issue 13's table, at each size of BENCH_LISTS_SIZES, on this build and
# (alternating, query by query) on BENCH_BASE_BIN. uptime goes beside the
# figures: the machine may be shared.
bench_lists() {
	local out=$TMP/report-lists.txt n fixture q label bin port rps p50 p99 non2xx reqs sock
	local base_pid='' base_port='' t0 t1 ms base_p50
	local -a queries=(
		"take=100"
		"take=100&page=500"
		"status=BLOCKED&take=100"
		"status=UNSUBSCRIBED&take=100&page=3"
		"segment_id=seg_half&take=100"
		"segment_id=seg_small&take=100"
		"user_id=%2B15550004242"
		"email=grace.hopper.4096%40example.com"
		"search=lovelace&take=100"
		"name=Grace&take=100"
		"search=turing&status=BLOCKED"
		"username=hopper&take=100"
		"search=grace.hopper.4096"
	)
	{
		echo "GET /orgs/c/contacts, 4 connections, ${BENCH_LIST_SECONDS}s each (p50/p99 ms):"
		[[ -z $BENCH_BASE_BIN ]] || echo "  base: $BENCH_BASE_BIN (ratio: this build's p50 / the base's)"
	} >"$out"
	for n in $BENCH_LISTS_SIZES; do
		fixture=$TMP/people-$n.json
		[[ -f $fixture ]] || python3 bench/make_fixture.py --people --contacts "$n" --out "$fixture"
		t0=$(date +%s%N)
		start_server "$fixture" "$TMP/lists-$n.db"
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		if [[ -n $BENCH_BASE_BIN ]]; then
			t0=$(date +%s%N)
			"$BENCH_BASE_BIN" --port 0 --db "$TMP/lists-base-$n.db" --fixtures "$fixture" --log off \
				</dev/null >"$TMP/base.out" 2>"$TMP/base.err" &
			base_pid=$!
			base_port=$(ready_port base "$base_pid") || die "the base server did not start"
			t1=$(date +%s%N)
			ms="$ms (base $(((t1 - t0) / 1000000)))"
		fi
		printf '  %d contacts; start with a fresh db %s ms; %s\n' "$n" "$ms" "$(uptime)" >>"$out"
		for q in "${queries[@]}"; do
			base_p50=
			for label in new base; do
				[[ $label == new ]] && port=$SERVER_PORT || port=$base_port
				[[ -n $port ]] || continue
				log "lists $n $label: $q"
				BENCH_PATH="/orgs/c/contacts?$q" run_wrk "lists" 4 "$BENCH_LIST_SECONDS" bench/get.lua "$port"
				read -r rps p50 p99 non2xx reqs sock < <(parse_wrk "$TMP/wrk-lists.txt")
				((non2xx == 0)) || problem "lists $label $q: $non2xx non-2xx answers of $reqs"
				if [[ $label == new ]]; then
					printf '    %-40s %8s %8s' "$q" "$p50" "$p99" >>"$out"
					base_p50=$p50
				else
					printf '   base %8s %8s  ratio %s' "$p50" "$p99" \
						"$(awk -v a="$base_p50" -v b="$p50" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" >>"$out"
				fi
			done
			echo >>"$out"
		done
		stop_server
		if [[ -n $base_pid ]]; then
			kill -TERM "$base_pid" 2>/dev/null || true
			wait "$base_pid" 2>/dev/null || true
			base_pid='' base_port=''
		fi
	done
}

# POST /__admin/reset: the demo data (what tests reset between cases), then
# 10,000 contacts; both on a database file.
bench_reset() {
	local out=$TMP/report-reset.txt fixture line
	echo "POST /__admin/reset (20 resets each, db on a file):" >"$out"
	for data in demo 10000; do
		if [[ $data == demo ]]; then
			fixture=""
		else
			fixture=$(make_fixture 10000)
		fi
		start_server "$fixture" "$TMP/reset-$data.db"
		log "reset: $data data, server pid $SERVER_PID"
		while IFS= read -r line; do
			printf '  %-16s %s\n' "$([[ $data == demo ]] && echo "demo data:" || echo "10000 contacts:")" "$line" >>"$out"
		done < <(python3 bench/reset_time.py "$SERVER_PORT" 20)
		stop_server
	done
}

# --- report ------------------------------------------------------------------

report() {
	local name model commit
	echo
	echo "=== invent-mock bench ==="
	for name in "${REPORT_ORDER[@]}"; do
		if [[ -f $TMP/report-$name.txt ]]; then cat "$TMP/report-$name.txt"; fi
	done
	model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	[[ -n $model ]] || model=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }')
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- 2>/dev/null; then
		commit="$commit (+ uncommitted changes)"
	fi
	echo "machine: $(nproc) CPUs, ${model:-unknown model}, Linux $(uname -r)"
	echo "build:   $BIN ($(meson introspect --buildoptions "$BUILD_DIR" |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))')), commit $commit${BENCH_SERVER_ARGS:+, server args: $BENCH_SERVER_ARGS}"
	echo "date:    $(date '+%Y-%m-%d %H:%M:%S %Z')"
	if [[ -s $TMP/problems.txt ]]; then
		echo "problems ($PROBLEMS):"
		sed 's/^/  /' "$TMP/problems.txt"
	else
		echo "problems: none"
	fi
}

main() {
	local what=${1:-all} name
	local -a selected=()
	(($# <= 1)) || usage
	if [[ $what == all ]]; then
		selected=("${BENCHES[@]}")
	else
		for name in "${BENCHES[@]}" "${EXTRA_BENCHES[@]}"; do
			if [[ $name == "$what" ]]; then selected=("$name"); fi
		done
		((${#selected[@]})) || usage
	fi
	[[ -f meson.build && -f bench/patch.lua ]] || die "run me from the project root"
	[[ $BENCH_SECONDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number of seconds"
	[[ $BENCH_CONTACTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONTACTS must be a positive number"
	[[ $BENCH_WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds"

	# Server settings come only from the command line here, not from the caller's
	# environment: the figures must not depend on a stray INVENT_MOCK_THREADS.
	local v
	for v in $(compgen -e | grep '^INVENT_MOCK_' || true); do unset "$v"; done

	ensure_deps
	build_release
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/invent-bench.XXXXXX")
	: >"$TMP/problems.txt"
	for name in "${selected[@]}"; do
		"bench_$name"
	done
	report
}

main "$@"
