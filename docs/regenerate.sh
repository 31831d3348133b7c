#!/usr/bin/env bash
# Regenerate every figure, table and command output in README.md and docs/ from this checkout, in dependency order.
# Run after a change that moves the model's numbers (random streams, mechanisms, calibration), from the repository
# root with the project's environment active:
#
#     bash docs/regenerate.sh              # everything but the calibration (uses the shipped posterior)
#     bash docs/regenerate.sh --calibrate  # recalibrate Rwanda first (about 6 s on 2 workers)
#
# tests/test_generated_docs.py (command outputs and the facts of docs/facts.py), tests/test_docs.py and
# tests/test_docs_site.py fail when any of these is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src
workers=${WORKERS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ "${1:-}" == "--calibrate" ]]; then
    twinsim calibrate scenarios/rwanda_tpn.toml --targets scenarios/targets/rwanda_tpn.toml \
        --budget 20000 --workers "$workers" --out scenarios/posteriors/rwanda_tpn --write-scenario --quiet
fi
cp scenarios/posteriors/rwanda_tpn/posterior_predictive.png docs/figures/calibration_posterior_predictive.png

python docs/gen_param_table.py --write
python docs/gen_mechanism_table.py --write

twinsim run scenarios/rwanda_tpn.toml --replicates 100 --out "$tmp/rwanda" --quiet >/dev/null
cp "$tmp/rwanda/trajectories.png" docs/figures/rwanda_trajectories.png
twinsim compare rwanda_no_program rwanda_tpn rwanda_pairs rwanda_north_south rwanda_external_experts rwanda_hybrid \
    --replicates 100 --out "$tmp/compare" --quiet >/dev/null
cp "$tmp/compare/ce_plane.png" docs/figures/compare_ce_plane.png
cp "$tmp/compare/ceac.png" docs/figures/compare_ceac.png
cp "$tmp/compare/trajectories.png" docs/figures/compare_trajectories.png
cp "$tmp/compare/evpi.png" docs/figures/compare_evpi.png
cp "$tmp/compare/evppi.png" docs/figures/compare_evppi.png

twinsim sensitivity rwanda_design_sensitivity --workers "$workers" --out docs/data/sensitivity_rwanda --force --quiet \
    >/dev/null
sed -i "s#$PWD/##g" docs/data/sensitivity_rwanda/result.json  # the posterior's path, relative to the checkout
cp docs/data/sensitivity_rwanda/indices.png docs/figures/sensitivity_rwanda_indices.png
cp docs/data/sensitivity_rwanda/convergence.png docs/figures/sensitivity_rwanda_convergence.png
twinsim sensitivity rwanda_design_sensitivity --method morris --samples 20 --output mean_gain --output total_cost \
    --workers "$workers" --out "$tmp/morris" --quiet --json | sed "s#$PWD/##g" >docs/data/sensitivity_rwanda_morris.json
cp "$tmp/morris/morris_mu_sigma.png" docs/figures/sensitivity_rwanda_morris.png

python docs/gen_outputs.py --write
python docs/facts.py --write  # numbers in the prose, from the same commands' --json and the files written above
echo "regenerated; look at the figures in docs/figures/ before committing"
