#!/usr/bin/env bash
# Checks that a refactoring changed no result: runs the same commands (demo, twin, forecast,
# observe, assimilate, cycle, rnn train, rnn gradient) with the binary built from a base
# revision and with the working tree's binary, and compares every output file. NetCDF files
# are compared through `ncdump -p 9,17` (every double printed to round-trip precision) without
# the `history` attribute, which holds the command line; JSON files without wall times.
#
#   scripts/compare-outputs.sh [BASE_REV]     # BASE_REV defaults to HEAD
#
# The base is built in its own git worktree and target directory (target/compare-base), so
# the first run takes a full build. Exit 0 when every output is identical, 1 otherwise.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
cd "$top"
base_rev=${1:-HEAD}
base_sha=$(git rev-parse --verify "$base_rev^{commit}")
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base-tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "building the working tree"
cargo build --release --locked --quiet
new_bin="$top/target/release/fourdvar"

echo "building $base_rev ($base_sha)"
git worktree add --detach --quiet "$work/base-tree" "$base_sha"
CARGO_TARGET_DIR="$top/target/compare-base" cargo build --release --locked --quiet \
    --manifest-path "$work/base-tree/Cargo.toml"
base_bin="$top/target/compare-base/release/fourdvar"

# One command; a failure stops the comparison (run_all runs in a subshell).
run() {
    "$@" || { echo "FAILED (exit $?): $*"; exit 1; }
}

# The commands, run in an empty folder with the repository's input files at hand.
run_all() {
    local bin=$1 dir=$2
    mkdir -p "$dir"
    cd "$dir"
    local m="$top/models" o="$top/observations" e="$top/experiments"
    run "$bin" demo --out demo.nc --json > demo.json
    run "$bin" forecast --model "$m/lorenz96.toml" --steps 20 --out truth.nc
    run "$bin" forecast --model "$m/lorenz96.toml" --spinup 1001 --steps 0 --out xb.nc
    run "$bin" forecast --model "$m/lorenz63.toml" --steps 50 --out l63.nc
    run "$bin" forecast --model "$m/shallow_water.toml" --spinup 100 --steps 12 --out sw_truth.nc
    run "$bin" observe --truth truth.nc --network "$o/lorenz96_half_every_other_step.toml" --seed 1 --out obs.csv
    run "$bin" observe --truth truth.nc --network "$o/lorenz96_square.toml" --seed 2 --out obs_square.nc
    for net in lorenz96_sparse_random lorenz96_between_sites lorenz96_all_every_step; do
        run "$bin" observe --truth truth.nc --network "$o/$net.toml" --seed 5 --out "obs_$net.csv"
    done
    run "$bin" observe --truth l63.nc --network "$o/lorenz63_xyz.toml" --seed 3 --out l63_obs.csv
    run "$bin" observe --truth sw_truth.nc \
        --network "$o/shallow_water_stations.toml" --seed 4 --out sw_obs.csv
    run "$bin" observe --truth sw_truth.nc \
        --network "$o/shallow_water_stations.toml" --seed 4 --out sw_obs.nc
    run "$bin" assimilate --model "$m/lorenz96.toml" --background xb.nc --obs obs.csv --truth truth.nc \
        --window-steps 20 --b-sigma 1 --b-correlation gaussian --b-length-scale 2 --out analysis.nc --json \
        > analysis.json
    run "$bin" cycle --config "$e/lorenz96_cycle.toml" --windows 20 --burn-in 5 --window-steps 4 --shift 4 --out cycle.nc \
        > cycle.txt
    run "$bin" twin --config "$e/shallow_water_twin.toml" --max-iterations 15 --out sw_twin.nc > sw_twin.txt
    run "$bin" rnn train --task lorenz96 --hidden 6 --epochs 5 --seed 3 --out net.json --loss-curve curve.csv \
        > train.txt
    run "$bin" rnn reservoir --task lorenz96 --hidden 20 --seed 1 --out esn.json > esn.txt
    printf 't,u0,y0\n0,0.5,0.1\n1,-0.25,0.2\n2,1.0,0.3\n3,0.0,-0.2\n' > seq.csv
    printf 't,u0,y0\n0,0.5,0.1\n1,-0.25,\n2,1.0,\n3,0.0,-0.2\n' > events.csv
    run "$bin" rnn gradient --model esn.json --data seq.csv --out grads.json
    run "$bin" rnn gradient --model esn.json --data events.csv --loss events --out grads_events.json
    cd "$top"
}

echo "running the commands"
(run_all "$base_bin" "$work/base") > "$work/base.log" 2>&1 || { cat "$work/base.log"; exit 1; }
(run_all "$new_bin" "$work/new") > "$work/new.log" 2>&1 || { cat "$work/new.log"; exit 1; }

# A file's comparable text: NetCDF without history, CSV without its provenance comment (time
# and command line), JSON and text without timings.
normalise() {
    case "$1" in
        *.nc) ncdump -p 9,17 "$1" | grep -v ':history = ' | sed '1s/^netcdf .*/netcdf file {/' ;;
        *.csv) sed -E '/^# [0-9]{4}-[0-9]{2}-[0-9]{2}T/d' "$1" ;;
        *) sed -E 's/"wall_time_seconds": *[-0-9.eE+]+/"wall_time_seconds": T/; s/[0-9.]+ (ms|s|µs)\b/T/g' "$1" ;;
    esac
}

status=0
count=0
for f in "$work/base"/*; do
    name=$(basename "$f")
    count=$((count + 1))
    if [ ! -e "$work/new/$name" ]; then
        echo "MISSING in the working tree: $name"; status=1; continue
    fi
    if ! diff -q <(normalise "$f") <(normalise "$work/new/$name") >/dev/null; then
        echo "DIFFERS: $name"
        diff <(normalise "$f") <(normalise "$work/new/$name") | head -20
        status=1
    fi
done
if [ "$status" = 0 ]; then
    echo "identical: all $count outputs of $base_rev and the working tree"
fi
exit "$status"
