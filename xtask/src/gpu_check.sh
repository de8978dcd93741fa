#!/usr/bin/env bash
# brunel's GPU check, run from a folder that `cargo xtask gpu-check --prepare DIR` filled.
# Builds nothing: it uses the binaries and the OpenCL loader of this folder.
#
#   DIR/run.sh [--allow-cpu] [--results FOLDER] [--repeats N]
#
# 1. reports the machine, the OpenCL platform and its devices (finding NVIDIA's ICD,
#    libnvidia-opencl.so.1, when no file under /etc/OpenCL/vendors names it);
# 2. runs the OpenCL test binaries with BRUNEL_REQUIRE=opencl (a skip fails);
# 3. times the four Fig. 8 panels with the opencl backend and the cpu backend side by side
#    (best of N runs of `brunel run ... --record none --summary S.toml`, its run_seconds);
# 4. writes everything to FOLDER/<date>-gpu-check/ (default FOLDER: DIR/results).
#
# Without an OpenCL GPU with fp64 it stops and says what is missing; --allow-cpu runs the same
# check on a CPU OpenCL device (PoCL), to test this script, into <date>-gpu-check-no-gpu/.
# The whole check is kept under 8 minutes (450 s of steps; BRUNEL_GPU_CHECK_SECONDS changes it).
# Exit status: 0 all passed, 1 a test or a timing failed, 2 something needed is missing.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ALLOW_CPU=0
RESULTS="$HERE/results"
REPEATS=3
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --allow-cpu) ALLOW_CPU=1 ;;
        --results) RESULTS="${2:?--results needs a folder}"; shift ;;
        --repeats) REPEATS="${2:?--repeats needs a number}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$REPEATS" in ''|*[!0-9]*|0) echo "run.sh: --repeats must be a whole number >= 1" >&2; exit 2 ;; esac

say() { echo "gpu-check: $*" >&2; }
# The whole check stays under 8 minutes: each step's timeout is cut to what is left of 450 s.
DEADLINE=$(( $(date +%s) + ${BRUNEL_GPU_CHECK_SECONDS:-450} ))
within() { local left=$(( DEADLINE - $(date +%s) )); [ "$left" -lt "$1" ] && echo "$left" || echo "$1"; }
missing() { say "MISSING: $*"; exit 2; }

[ -x "$HERE/bin/brunel" ] && [ -d "$HERE/tests" ] && [ -f "$HERE/MANIFEST.txt" ] \
    || missing "$HERE is not a complete prepared folder (bin/brunel, tests/, MANIFEST.txt); prepare it again with cargo xtask gpu-check --prepare"
[ "$(uname -m)" = x86_64 ] || missing "this machine is $(uname -m); the prepared binaries are x86-64"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/brunel-gpu-check.XXXXXX")" || missing "no temporary folder"
trap 'rm -rf "$WORK"' EXIT

# --- The OpenCL loader: this folder's (Debian's ocl-icd), whatever the machine has. ---
LOADER="$HERE/opencl-loader/usr/lib/x86_64-linux-gnu"
[ -e "$LOADER/libOpenCL.so.1" ] \
    || missing "no OpenCL loader: $LOADER/libOpenCL.so.1 is not there (the prepared folder is incomplete)"
export LD_LIBRARY_PATH="$LOADER${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# --- Shared libraries: the machine's own where it has them all, else the bundled ones. ---
BINARIES=("$HERE/bin/brunel" "$HERE"/tests/*)
not_found() { ldd "${BINARIES[@]}" 2>/dev/null | grep "not found" | sort -u; }
if [ -n "$(not_found)" ]; then
    export LD_LIBRARY_PATH="$LOADER:$HERE/lib/bundled${LD_LIBRARY_PATH#"$LOADER"}"
    LIBS="bundled ($HERE/lib/bundled)"
else
    LIBS="this machine's"
fi
if [ -n "$(not_found)" ]; then
    missing "shared libraries that neither this machine nor the folder has: $(not_found | awk '{print $1}' | tr '\n' ' ')"
fi
if ! "$HERE/bin/brunel" --version >/dev/null 2>"$WORK/err"; then
    missing "bin/brunel does not start here ($(head -3 "$WORK/err" | tr '\n' ' ')); an older glibc than the preparing machine's? (this one: $(ldd --version 2>/dev/null | head -1))"
fi

# --- The ICD: NVIDIA's library, named by a vendor file, or found and named by one of ours. ---
VENDOR_DIR="${BRUNEL_GPU_CHECK_VENDORS:-/etc/OpenCL/vendors}"
ICD_NOTE=""
if [ -n "${OCL_ICD_VENDORS:-}" ]; then
    ICD_NOTE="OCL_ICD_VENDORS=$OCL_ICD_VENDORS (set by the caller)"
elif grep -qs "libnvidia-opencl" "$VENDOR_DIR"/*.icd 2>/dev/null; then
    ICD_NOTE="NVIDIA's ICD named by $(grep -ls "libnvidia-opencl" "$VENDOR_DIR"/*.icd | tr '\n' ' ')"
else
    NVIDIA_LIB=""
    if [ -n "${BRUNEL_GPU_CHECK_NVIDIA_DIRS:-}" ]; then
        SEARCH="$BRUNEL_GPU_CHECK_NVIDIA_DIRS"
    else
        NVIDIA_LIB="$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1 /{print $NF; exit}')"
        SEARCH="/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/nvidia /usr/local/cuda/lib64 /usr/lib/wsl/lib"
    fi
    if [ -z "$NVIDIA_LIB" ]; then
        for d in $SEARCH; do
            if [ -e "$d/libnvidia-opencl.so.1" ]; then NVIDIA_LIB="$d/libnvidia-opencl.so.1"; break; fi
        done
    fi
    if [ -n "$NVIDIA_LIB" ]; then
        mkdir -p "$WORK/vendors"
        cp "$VENDOR_DIR"/*.icd "$WORK/vendors/" 2>/dev/null || true
        echo "$NVIDIA_LIB" > "$WORK/vendors/nvidia.icd"
        export OCL_ICD_VENDORS="$WORK/vendors"
        ICD_NOTE="no vendor file under $VENDOR_DIR names NVIDIA's library; found $NVIDIA_LIB and named it in a private ICD file (OCL_ICD_VENDORS)"
    else
        ICD_NOTE="no NVIDIA ICD: no file under $VENDOR_DIR names libnvidia-opencl.so.1, and it is not in ldconfig's cache nor in: $SEARCH"
        [ -d "$VENDOR_DIR" ] && ICD_NOTE="$ICD_NOTE (vendor files there: $(ls "$VENDOR_DIR" 2>/dev/null | tr '\n' ' '))"
    fi
fi
say "$ICD_NOTE"

# --- The devices. ---
"$HERE/bin/brunel" backends > "$WORK/backends.txt" 2>&1
"$HERE/bin/brunel" backends --format toml > "$WORK/devices.toml" 2>&1
cat "$WORK/backends.txt" >&2
# One line per device: index<TAB>kind<TAB>fp64<TAB>name
awk -F' = ' '
    /^\[\[device\]\]/ { if (n) print idx "\t" kind "\t" fp "\t" name; n = 1; idx = ""; kind = ""; fp = ""; name = "" }
    $1 == "index" { idx = $2 } $1 == "kind" { kind = $2 } $1 == "fp64" { fp = $2 } $1 == "name" { name = $2 }
    END { if (n) print idx "\t" kind "\t" fp "\t" name }' "$WORK/devices.toml" | tr -d '"' > "$WORK/devices.tsv"
if [ ! -s "$WORK/devices.tsv" ]; then
    missing "no OpenCL device: $(grep -h opencl_error "$WORK/devices.toml" | sed 's/^opencl_error = //') — $ICD_NOTE"
fi
DEVICE="$(awk -F'\t' '$2 == "gpu" && $3 == "true" {print $1; exit}' "$WORK/devices.tsv")"
KIND=gpu
if [ -z "$DEVICE" ]; then
    if awk -F'\t' '$2 == "gpu"' "$WORK/devices.tsv" | grep -q .; then
        WHY="a GPU without fp64 (the OpenCL backend computes in double precision): $(awk -F'\t' '$2 == "gpu" {print $4}' "$WORK/devices.tsv" | tr '\n' ' ')"
    else
        WHY="no OpenCL GPU among the devices ($(cut -f2,4 "$WORK/devices.tsv" | tr '\t\n' ': '))"
    fi
    if [ "$ALLOW_CPU" = 1 ]; then
        DEVICE="$(awk -F'\t' '$3 == "true" {print $1; exit}' "$WORK/devices.tsv")"
        [ -n "$DEVICE" ] || missing "no OpenCL device with fp64 at all: $WHY"
        KIND="$(awk -F'\t' -v d="$DEVICE" '$1 == d {print $2}' "$WORK/devices.tsv")"
        say "no GPU: $WHY; --allow-cpu: checking device $DEVICE ($KIND) instead"
    else
        missing "$WHY. $ICD_NOTE. (--allow-cpu runs the check on a CPU OpenCL device instead.)"
    fi
fi
DEVICE_NAME="$(awk -F'\t' -v d="$DEVICE" '$1 == d {print $4}' "$WORK/devices.tsv")"
say "device $DEVICE: $DEVICE_NAME ($KIND)"

# --- The results folder. ---
SUFFIX=""; [ "$KIND" = gpu ] || SUFFIX="-no-gpu"
OUT="$RESULTS/$(date -u +%Y-%m-%d)-gpu-check$SUFFIX"
mkdir -p "$OUT" || missing "cannot create $OUT"
OUT="$(cd "$OUT" && pwd)"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -n), $(uname -sr), $(grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null | cut -d= -f2 | tr -d '"')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "glibc: $(ldd --version 2>/dev/null | head -1)"
    echo "shared libraries: $LIBS"
    echo "icd: $ICD_NOTE"
    echo "device used: $DEVICE, $DEVICE_NAME ($KIND)"
    echo
    echo "## brunel backends"
    cat "$WORK/backends.txt"
    echo
    echo "## brunel backends --format toml"
    cat "$WORK/devices.toml"
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo
        echo "## nvidia-smi"
        nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
    fi
    echo
    echo "## prepared folder"
    cat "$HERE/MANIFEST.txt"
} > "$OUT/machine.txt"
FAILED=0

# --- The tests, OpenCL required. ---
: > "$OUT/test-log.tsv"
: > "$OUT/tests.log"
TESTS_RESULT=""
mkdir -p "$WORK/cwd"
for t in "$HERE"/tests/*; do
    name="$(basename "$t")"
    limit=$(within 300)
    if [ "$limit" -le 5 ]; then
        TESTS_RESULT="$TESTS_RESULT| $name | NOT RUN (time budget spent) | - |"$'\n'
        FAILED=1
        continue
    fi
    say "test $name"
    start=$(date +%s)
    (cd "$WORK/cwd" && env BRUNEL_REQUIRE=opencl BRUNEL_OPENCL_DEVICE="$DEVICE" \
        BRUNEL_CONFIGS="$HERE/configs" BRUNEL_TEST_LOG="$OUT/test-log.tsv" \
        timeout "$limit" "$t") > "$WORK/test.log" 2>&1
    rc=$?
    { echo "=== $name (exit $rc)"; cat "$WORK/test.log"; } >> "$OUT/tests.log"
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        TESTS_RESULT="$TESTS_RESULT| $name | passed | ${secs} s |"$'\n'
    else
        [ $rc -eq 124 ] && what="timed out ($limit s)" || what="FAILED (exit $rc)"
        TESTS_RESULT="$TESTS_RESULT| $name | $what | ${secs} s |"$'\n'
        FAILED=1
        say "$name $what; see $OUT/tests.log"
    fi
    grep -E "^test result|FAILED|panicked|SKIPPED" "$WORK/test.log" | tail -3 >&2
done

# --- The four panels, opencl and cpu side by side. ---
echo "panel,backend,repeat,run_seconds,build_seconds,spikes,device" > "$OUT/timings.csv"
field() { grep "^$1 = " "$2" | head -1 | sed "s/^$1 = //; s/\"//g"; }
TABLE=""
for panel in a b c d; do
    declare -A best=() spikes=()
    for backend in opencl cpu; do
        args=(run "$HERE/configs/fig8_$panel.toml" --backend "$backend" --record none
              --out "$WORK/p.h5" --force --quiet --summary "$WORK/s.toml")
        [ "$backend" = opencl ] && args+=(--device "$DEVICE")
        for r in $(seq 1 "$REPEATS"); do
            rm -f "$WORK/s.toml"
            limit=$(within 120)
            if [ "$limit" -le 2 ]; then
                say "panel $panel, $backend: not run, the time budget is spent"
                FAILED=1
                break
            fi
            if ! (cd "$WORK" && timeout "$limit" "$HERE/bin/brunel" "${args[@]}") 2>>"$OUT/timings.log"; then
                say "panel $panel, $backend: brunel run failed; see $OUT/timings.log"
                FAILED=1
                break
            fi
            run_s="$(field run_seconds "$WORK/s.toml")"
            echo "$panel,$backend,$r,$run_s,$(field build_seconds "$WORK/s.toml"),$(field spikes "$WORK/s.toml"),\"$(field device "$WORK/s.toml")\"" >> "$OUT/timings.csv"
            spikes[$backend]="$(field spikes "$WORK/s.toml")"
            if [ -z "${best[$backend]:-}" ] || awk -v a="$run_s" -v b="${best[$backend]}" 'BEGIN {exit !(a < b)}'; then
                best[$backend]="$run_s"
            fi
        done
    done
    same="yes"; [ "${spikes[opencl]:-x}" = "${spikes[cpu]:-y}" ] || { same="NO"; FAILED=1; }
    ratio="$(awk -v o="${best[opencl]:-0}" -v c="${best[cpu]:-0}" 'BEGIN { if (o > 0) printf "%.2fx", c / o; else print "-" }')"
    fmt() { [ -n "${1:-}" ] && awk -v x="$1" 'BEGIN { printf "%.3f", x }' || echo -; }
    TABLE="$TABLE| ${panel^^} | $(fmt "${best[opencl]:-}") | $(fmt "${best[cpu]:-}") | $ratio | ${spikes[opencl]:--} / ${spikes[cpu]:--} ($same) |"$'\n'
    say "panel ${panel^^}: opencl ${best[opencl]:--} s, cpu ${best[cpu]:--} s"
    unset best spikes
done

# --- The summary. ---
skips="$(awk -F'\t' '$1 == "skipped" {print "- " $2 " " $3 ": " $4}' "$OUT/test-log.tsv")"
passed="$(awk -F'\t' '$1 == "passed"' "$OUT/test-log.tsv" | wc -l)"
{
    echo "# GPU check: the OpenCL backend on $DEVICE_NAME"
    echo
    echo "$(date -u +%Y-%m-%d), \`run.sh$( [ "$ALLOW_CPU" = 1 ] && echo " --allow-cpu") --repeats $REPEATS\` from a folder prepared by"
    echo "\`cargo xtask gpu-check --prepare\` ($(grep -m1 '^commit' "$HERE/MANIFEST.txt")). Machine, platform and devices:"
    echo "machine.txt. Device kind: $KIND."
    echo
    echo "## Tests (BRUNEL_REQUIRE=opencl)"
    echo
    echo "| test binary | result | time |"
    echo "|---|---|---|"
    printf "%s" "$TESTS_RESULT"
    echo
    echo "Reported to BRUNEL_TEST_LOG: $passed passed; skipped: ${skips:-none}."
    echo "Output: tests.log, test-log.tsv."
    echo
    echo "## Fig. 8 panels, run phase (s), best of $REPEATS"
    echo
    echo "\`brunel run configs/fig8_{a,b,c,d}.toml --backend opencl|cpu --record none --summary S.toml\`,"
    echo "run_seconds of S.toml; cpu on all $(nproc) cores. Every run: timings.csv."
    echo
    echo "| panel | opencl (device $DEVICE) | cpu | cpu ÷ opencl | spikes opencl / cpu (same) |"
    echo "|---|---|---|---|---|"
    printf "%s" "$TABLE"
    echo
    [ "$FAILED" = 0 ] && echo "Result: every test passed and every panel ran with the same spike count on both backends." \
        || echo "Result: FAILED (see above, tests.log and timings.log)."
} > "$OUT/README.md"
cat "$OUT/README.md" >&2
say "results in $OUT"
exit $FAILED
