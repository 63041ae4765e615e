#!/usr/bin/env bash
# Prints the output file names (each carries the blake3 of its bytes) that a build of
# `imflow` writes for the corpus of make_corpus.py, over ops, chains, dtypes, formats and
# both backends. Two builds whose listings are equal wrote byte-identical outputs.
#     python3 tests/identity/make_corpus.py /tmp/corpus
#     tests/identity/run.sh target/debug/imflow /tmp/corpus /tmp/out-new > new.txt
set -euo pipefail
bin=$1 corpus=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
n=0
for backend in cpu gpu; do
  for chain in "gaussian:sigma=2" "box:size=5" "threshold:method=otsu" \
               "gaussian:sigma=1.5|threshold:method=otsu" "gaussian:sigma=2|box:size=3|threshold:method=otsu" \
               "gaussian:sigma_x=3,sigma_y=0.5,truncate=3|threshold:value=400" "box:size=20" "gaussian:sigma=20"; do
    for dtype in same f32; do
      n=$((n + 1))
      ops=(); IFS='|' read -ra parts <<< "$chain"; for p in "${parts[@]}"; do ops+=(--op "$p"); done
      "$bin" run -i "$corpus" "${ops[@]}" --dtype "$dtype" --out "$work/$n" --backend "$backend" >/dev/null 2>&1 || true
      for f in $(cd "$work/$n" && ls); do echo "$backend $chain $dtype $f"; done
    done
  done
  for f in u16_gray.tif rgb.png anim.gif u16_pages.tif; do
    for ext in tif png gif; do
      n=$((n + 1))
      if "$bin" apply "$corpus/$f" "$work/apply-$n.$ext" --op gaussian:sigma=1 --op threshold:method=otsu --backend "$backend" >/dev/null 2>&1; then
        echo "$backend apply $f $ext $(b3sum --no-names "$work/apply-$n.$ext" 2>/dev/null || python3 -c "import blake3,sys;print(blake3.blake3(open(sys.argv[1],'rb').read()).hexdigest())" "$work/apply-$n.$ext")"
      else
        echo "$backend apply $f $ext failed"
      fi
    done
  done
done
