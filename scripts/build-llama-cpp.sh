#!/usr/bin/env bash
# Build llama.cpp once, from the source that the pinned llama-cpp-python sdist vendors:
# the shared libraries (for the Python binding) and the CLI tools the course teaches.
# The result lives in the cache ($SLMLAB_HOME, default ~/.cache/slmlab) and is reused by
# every later run; a finished build is marked by BUILD_OK.
#   build-llama-cpp.sh                 download, unpack, patch and build (once)
#   build-llama-cpp.sh --source-only   download and unpack only (seconds): the converter and gguf-py, no tools
#   build-llama-cpp.sh --print-flags   the instruction-set options it would configure with, and nothing else
# SLMLAB_PORTABLE=1 (Binder's postBuild sets it): a build that runs on any x86-64 CPU with AVX2, not only this one
set -euo pipefail
SOURCE_ONLY=0
[[ "${1:-}" == --source-only ]] && SOURCE_ONLY=1
PORTABLE="${SLMLAB_PORTABLE:-0}"

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
HOME_DIR="${SLMLAB_HOME:-$HOME/.cache/slmlab}"
ROOT="$HOME_DIR/llama.cpp-$VERSION"
PYTHON="${PYTHON:-python3}"
JOBS="${JOBS:-$(nproc)}"
TOOLS=(llama-quantize llama-bench llama-server llama-cli llama-perplexity llama-imatrix)
PATCHES="$(cd "$(dirname "$0")" && pwd)/patches"
# The CPU's instruction sets. On x86 they are named one by one from /proc/cpuinfo instead of GGML_NATIVE's
# -march=native, which also compiles in ggml's AMX tile kernels wherever the CPU lists AMX: on the virtual
# machines this course is tested on (Sapphire Rapids guests) those kernels died with SIGILL ("tilezero") in the
# middle of llama-perplexity, since the hypervisor does not keep tile state across context switches. AMX only
# speeds up batched int8 prompt processing; everything else is the same code.
# A portable build (an image built on one machine and run on others, as Binder's is) names a fixed x86-64-v3 set
# instead: AVX2, FMA, F16C, BMI2, which every x86 server of the last ten years has; no AVX-512, no AMX. (ggml's own
# answer, GGML_BACKEND_DL with GGML_CPU_ALL_VARIANTS, compiles the CPU backend 14 times and picks one at run time,
# AMX variant included.)
simd_flags() {
  if [[ "$(uname -m)" != x86_64 || ! -r /proc/cpuinfo ]]; then
    if [[ $PORTABLE == 1 ]]; then echo "-DGGML_NATIVE=OFF"; else echo "-DGGML_NATIVE=ON"; fi
    return
  fi
  local have out="-DGGML_NATIVE=OFF"
  have=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  [[ $PORTABLE == 1 ]] && have=" sse4_2 avx avx2 fma f16c bmi2 "
  for pair in sse4_2:SSE42 avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI avx512f:AVX512 \
              avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
    if [[ "$have" == *" ${pair%%:*} "* ]]; then out+=" -DGGML_${pair##*:}=ON"; else out+=" -DGGML_${pair##*:}=OFF"; fi
  done
  echo "$out -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
}
SIMD="$(simd_flags)"
if [[ "${1:-}" == --print-flags ]]; then echo "$SIMD"; exit 0; fi
# What the build is made of: the version, our patches, the tools and the CPU flags. A change rebuilds only what it
# touches (new CPU flags: the CPU backend).
BUILD_ID="$VERSION $( (cat "$PATCHES"/*.patch 2>/dev/null; echo "${TOOLS[*]} $SIMD") | sha256sum | cut -c1-12)"

if [[ -f "$ROOT/BUILD_OK" && "$(head -1 "$ROOT/BUILD_OK")" == "$BUILD_ID" ]]; then
  echo "llama.cpp $VERSION: already built in $ROOT"
  exit 0
fi
if [[ $SOURCE_ONLY == 1 && -d "$ROOT/src/vendor/llama.cpp" ]]; then
  echo "llama.cpp $VERSION: source in $ROOT/src (not built: the fast tier needs only the converter and gguf-py)"
  exit 0
fi
mkdir -p "$ROOT"

sdist="$ROOT/llama_cpp_python-$VERSION.tar.gz"
if [[ ! -f "$sdist" ]]; then
  echo "==> downloading the llama-cpp-python $VERSION source (it vendors llama.cpp)"
  tmp=$(mktemp -d)
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$tmp"
  mv "$tmp"/llama_cpp_python-"$VERSION".tar.gz "$sdist"
  rm -rf "$tmp"
fi
if [[ ! -d "$ROOT/src/vendor/llama.cpp" ]]; then
  echo "==> unpacking"
  rm -rf "$ROOT/src" "$ROOT/src.tmp"
  mkdir -p "$ROOT/src.tmp"
  tar -xzf "$sdist" -C "$ROOT/src.tmp" --strip-components=1
  mv "$ROOT/src.tmp" "$ROOT/src"
fi

if [[ $SOURCE_ONLY == 1 ]]; then
  echo "==> llama.cpp source unpacked in $ROOT/src (not built)"
  exit 0
fi

# Our patches to llama.cpp (each says why in scripts/patches/README.md); applied once, checked every time.
for patch in "$PATCHES"/*.patch; do
  [[ -f "$patch" ]] || continue
  if git -C "$ROOT/src/vendor/llama.cpp" apply --reverse --check "$patch" 2>/dev/null; then
    continue  # already applied
  fi
  echo "==> patching llama.cpp: $(basename "$patch")"
  git -C "$ROOT/src/vendor/llama.cpp" apply "$patch"
done

if [[ $PORTABLE == 1 ]]; then isa="a portable instruction set (SLMLAB_PORTABLE=1)"; else isa="this CPU's instruction sets"; fi
echo "==> configuring llama.cpp (shared libraries, $isa, nothing fetched from the network)"
echo "    $SIMD"
# shellcheck disable=SC2086  # SIMD is a list of -D options
cmake -S "$ROOT/src/vendor/llama.cpp" -B "$ROOT/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=ON \
  $SIMD \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
  > "$ROOT/configure.log" 2>&1 || { tail -30 "$ROOT/configure.log"; exit 1; }

echo "==> building ${TOOLS[*]} and the libraries with $JOBS jobs (about 10 minutes on 2 cores; log: $ROOT/build.log)"
start=$(date +%s)
cmake --build "$ROOT/build" --config Release -j "$JOBS" --target llama mtmd "${TOOLS[@]}" \
  > "$ROOT/build.log" 2>&1 &
pid=$!
# progress: the percentage that make prints, every 20 seconds
while kill -0 "$pid" 2>/dev/null; do
  sleep 20
  pct=$(grep -oE '^\[ *[0-9]+%\]' "$ROOT/build.log" | tail -1 | tr -d '[] ')
  echo "    ${pct:-0%} after $(( $(date +%s) - start )) s"
done
if ! wait "$pid"; then
  tail -30 "$ROOT/build.log"
  echo "llama.cpp build failed; the full log is $ROOT/build.log" >&2
  exit 1
fi
for t in "${TOOLS[@]}"; do
  [[ -x "$ROOT/build/bin/$t" ]] || { echo "missing $t after the build" >&2; exit 1; }
done
printf '%s\nbuilt in %s s on %s cores\n' "$BUILD_ID" "$(( $(date +%s) - start ))" "$(nproc)" > "$ROOT/BUILD_OK"
echo "==> llama.cpp built in $(( $(date +%s) - start )) s: $ROOT/build/bin"
