#!/usr/bin/env bash
# Run the opencontainers runtime-tools validation suite against moat and,
# for comparison, runc, and print a per-program table of TAP results.
#
#   bash oci/conformance/run.sh [-r moat,runc] [-t SECONDS] [-w WORKDIR] [PROGRAM...]
#
#   -r  runtimes to run, comma separated (default: moat,runc; runc is
#       installed with apt-get when missing)
#   -t  timeout for one validation program (default 180 s)
#   -w  work directory (default /tmp/moat-conformance); the suite's build,
#       each runtime's state root and the output of every program
#       (WORKDIR/out/RUNTIME/PROGRAM.{tap,err,rc}) are kept there
#   -n  run nothing: print the table from the outputs already in WORKDIR
#   PROGRAM  only these validation programs (e.g. hostname process_rlimits)
#
# Needs root (the programs create containers). Not part of .ci/run: the
# whole run takes several minutes per runtime (see RESULTS.md).
set -uo pipefail

RT_MOD=github.com/opencontainers/runtime-tools
RT_VER=v0.9.1-0.20251114084447-edf4cb3d2116

runtimes=moat,runc
per_timeout=180
work=/tmp/moat-conformance
norun=0
while getopts "r:t:w:nh" opt; do
	case $opt in
	r) runtimes=$OPTARG ;;
	t) per_timeout=$OPTARG ;;
	w) work=$OPTARG ;;
	n) norun=1 ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
only=("$@")

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: the validation programs need root" >&2
	exit 2
fi
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work/bin"
work=$(cd "$work" && pwd)
rt=$work/runtime-tools

# 1. The suite, from the Go module proxy, built without its vendor tree.
if [ $norun = 0 ] && { [ ! -x "$rt/runtimetest" ] || [ "$(cat "$rt/.moat-version" 2>/dev/null)" != "$RT_VER" ]; }; then
	echo "== fetching $RT_MOD@$RT_VER"
	dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$RT_MOD@$RT_VER" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		echo "run.sh: go mod download gave no module directory" >&2
		exit 1
	fi
	rm -rf "$rt"
	cp -r "$dir" "$rt"
	chmod -R u+w "$rt"
	rm -rf "$rt/vendor"
	echo "== building runtimetest and the validation programs"
	if ! (cd "$rt" && GOFLAGS=-mod=mod make -j"$(nproc)" runtimetest validation-executables >"$work/build.log" 2>&1); then
		tail -30 "$work/build.log" >&2
		exit 1
	fi
	echo "$RT_VER" >"$rt/.moat-version"
fi
# The programs untar rootfs-amd64.tar.gz and copy ./runtimetest from their
# working directory, which is the suite's top directory; check that the
# rootfs is there and unpacks.
if [ $norun = 0 ] && ! tar -tzf "$rt/rootfs-amd64.tar.gz" >/dev/null 2>&1; then
	echo "run.sh: $rt/rootfs-amd64.tar.gz missing or unreadable" >&2
	exit 1
fi

# 2. The runtimes. Each gets a wrapper that pins its own state root, so
# leftovers of one program can be cleaned up without touching anything
# else on the machine.
IFS=, read -r -a rts <<<"$runtimes"
for r in "${rts[@]}"; do
	[ $norun = 1 ] && break
	case $r in
	moat)
		echo "== building moat"
		(cd "$repo" && go build -o "$work/bin/moat.real" ./cmd/moat) || exit 1
		real=$work/bin/moat.real
		;;
	runc)
		if ! command -v runc >/dev/null; then
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null 2>&1 ||
				{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null; }
		fi
		real=$(command -v runc) || { echo "run.sh: no runc" >&2; exit 1; }
		;;
	*) echo "run.sh: unknown runtime $r" >&2; exit 2 ;;
	esac
	mkdir -p "$work/state/$r"
	cat >"$work/bin/$r" <<EOF
#!/bin/sh
exec "$real" --root "$work/state/$r" "\$@"
EOF
	chmod +x "$work/bin/$r"
done

cleanup_root() { # runtime: delete every container left in its root
	local r=$1 id
	for id in $("$work/bin/$r" list -q 2>/dev/null); do
		"$work/bin/$r" delete --force "$id" >/dev/null 2>&1
	done
}

# count FILE: "pass fail skip" from the top-level TAP lines of FILE (the
# inner runtimetest output the suite nests as YAML is indented and ignored).
count() {
	awk '
	/^ok[ \t]/ || /^ok$/ { if (tolower($0) ~ /#[ \t]*skip/) s++; else p++; next }
	/^not ok/ { if (tolower($0) ~ /#[ \t]*skip/) s++; else f++; next }
	/^1\.\.0/ { if (tolower($0) ~ /skip/) s++ }
	END { printf "%d %d %d\n", p, f, s }' "$1"
}

progs=()
for t in "$rt"/validation/*/*.t; do
	name=$(basename "$t" .t)
	if [ ${#only[@]} -gt 0 ]; then
		keep=0
		for o in "${only[@]}"; do [ "$o" = "$name" ] && keep=1; done
		[ $keep = 1 ] || continue
	fi
	progs+=("$name")
done

# 3. Run every program under each runtime.
start_all=$(date +%s)
for r in "${rts[@]}"; do
	[ $norun = 1 ] && break
	out=$work/out/$r
	mkdir -p "$out"
	cleanup_root "$r"
	s=$(date +%s)
	for p in "${progs[@]}"; do
		t0=$(date +%s)
		(cd "$rt" && RUNTIME="$work/bin/$r" timeout -k 10 "$per_timeout" \
			"./validation/$p/$p.t" >"$out/$p.tap" 2>"$out/$p.err" </dev/null)
		rc=$?
		echo "$rc" >"$out/$p.rc"
		cleanup_root "$r"
		read -r pa fa sk < <(count "$out/$p.tap")
		printf '%-6s %-40s pass %4d fail %3d skip %3d rc %3d  %3ds\n' "$r" "$p" "$pa" "$fa" "$sk" "$rc" $(($(date +%s) - t0))
	done
	echo "$(($(date +%s) - s))" >"$out/seconds"
done
# The programs leave bundles in /tmp/ocitest*; those of a clean run are
# removed by the programs themselves.

# 4. The table.
table=$work/table.md
{
	printf '| program |'
	for r in "${rts[@]}"; do printf ' %s pass | fail | skip |' "$r"; done
	printf '\n|---|'
	for r in "${rts[@]}"; do printf -- '--:|--:|--:|'; done
	printf '\n'
	declare -A tp tf ts
	for p in "${progs[@]}"; do
		printf '| %s |' "$p"
		for r in "${rts[@]}"; do
			read -r pa fa sk < <(count "$work/out/$r/$p.tap")
			rc=$(cat "$work/out/$r/$p.rc")
			note=""
			[ "$rc" = 124 ] || [ "$rc" = 137 ] && note=" (timeout)"
			[ "$rc" != 0 ] && [ -z "$note" ] && [ "$fa" = 0 ] && note=" (exit $rc)"
			printf ' %d | %d%s | %d |' "$pa" "$fa" "$note" "$sk"
			tp[$r]=$((${tp[$r]:-0} + pa)); tf[$r]=$((${tf[$r]:-0} + fa)); ts[$r]=$((${ts[$r]:-0} + sk))
		done
		printf '\n'
	done
	printf '| **total (%d programs)** |' "${#progs[@]}"
	for r in "${rts[@]}"; do printf ' **%d** | **%d** | **%d** |' "${tp[$r]}" "${tf[$r]}" "${ts[$r]}"; done
	printf '\n\n'
	for r in "${rts[@]}"; do
		printf -- '- %s: %s s\n' "$r" "$(cat "$work/out/$r/seconds")"
	done
} >"$table"
echo
cat "$table"
echo
echo "total $(($(date +%s) - start_all)) s; outputs in $work/out/RUNTIME/PROGRAM.{tap,err,rc}, table in $table"
