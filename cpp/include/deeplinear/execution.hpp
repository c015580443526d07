// How one call runs: its thread count and its choice of kernels. A context is made once per
// call (by the bindings, or by a C++ caller) and passed down to everything that multiplies
// matrices (the steppers, GradientSweep, chained products, the factorizer, the diagnostics):
// no process-wide setting decides what a call computes, so concurrent calls with different
// contexts never change each other's results.
#pragma once

#include <string>

#include "common.hpp"

namespace deeplinear {

// Instruction sets of our kernels (cpp/kernels/): each is compiled into every build on x86-64
// and the best one the CPU supports is chosen at run time (see choose_kernel).
enum class Isa { generic, avx2, avx512 };

// Back ends for the square products of a call (thresholds: cpp/kernels/tuning.hpp).
//   fixed   whole gd/penalty steps on d ≤ 12 in one kernel call (no per-product dispatch)
//   small   register-blocked tiles streaming rows of the right factor (no packing)
//   packed  the right factor packed into panels; prefetches the next products' operands
//   blas    the OpenBLAS of the scipy-openblas32 wheel (DEEPLINEAR_BLAS builds)
// Every back end but blas follows the arithmetic contract of cpp/kernels/kernel_abi.hpp, so
// their results are equal bit for bit; the BLAS rounds differently.
enum class Backend { fixed, small, packed, blas };

// With threads > 1, whether the small or packed kernel shares a product's rows among them:
// timed (both ways are timed as the run goes and the faster kept; see thread_split.hpp), always
// or never. Never changes a result.
enum class SplitPolicy { timed, always, never };

// Whether a batch steps small networks in lane groups (lanes.hpp): at the d where
// lanes_by_default<T>() says so ("auto"), for every d up to kLaneMaxDim ("always": tests of the
// lane kernels), or "never".
enum class LanePolicy { automatic, always, never };

enum class Dtype { float32, float64 };
template <class T>
constexpr Dtype dtype_of = sizeof(T) == 8 ? Dtype::float64 : Dtype::float32;

struct ExecutionContext {
    int threads = 1;                   // 1 ≤ threads ≤ available_cores()
    Isa isa = Isa::generic;            // the kernels' instruction set (resolved, see make)
    bool backend_forced = false;       // tests: every product of the call on `backend`
    Backend backend = Backend::small;  // (only read when backend_forced)
    SplitPolicy split = SplitPolicy::timed;

    // threads: capped at available_cores(), and at 1 in a process forked from one that had made
    // a context of several threads (forked_after_threads). isa: "auto" (the best the CPU supports) or one
    // of "generic", "avx2", "avx512" (std::invalid_argument if this build or CPU lacks it).
    // backend: "auto" or a Backend's name (std::invalid_argument if the build lacks it).
    // split: "timed", "always" or "never".
    static ExecutionContext make(int threads, const std::string& isa = "auto", const std::string& backend = "auto",
                                 const std::string& split = "timed");
};

// The cores this process may run on (its CPU affinity mask), at least 1.
int available_cores();

// Whether this process was forked from one that had made a context of several threads: then
// ExecutionContext::make gives one thread, since GNU OpenMP's threads do not survive fork(), and
// the parallel regions of a context made before the fork run on the calling thread alone.
bool forked_after_threads();

// The best instruction set of our kernels that this build has and this CPU supports
// (detected once per process).
Isa best_isa();
bool isa_available(Isa isa);

// How the CPU executes 512-bit vector operations: whole (Intel's AVX-512 cores, two 512-bit
// multiply-add units) or as two 256-bit halves (AMD's Zen 4, family 19h, whose two multiply-add
// units are 256 bits wide). Detected once per process (whole on a CPU without AVX-512); a few
// kernel choices were measured apart on the two (cpp/kernels/tuning.hpp).
enum class VectorCore { whole, halves };
VectorCore vector_core();
const char* name(VectorCore core);
// "auto" (this CPU's), "whole" or "halves" (std::invalid_argument otherwise).
VectorCore parse_vector_core(const std::string& text);

// The one decision point: which back end runs the n×n products of a call with `context`.
// whole_steps: the caller can run whole fixed-size steps (gd and penalty) rather than products.
Backend choose_backend(const ExecutionContext& context, Index n, Dtype dtype, bool whole_steps = false);
// Whether the small or packed kernel shares the rows of a product among the context's threads
// for this n (the split policy decides product by product). The BLAS always gets all of them:
// its results depend on its thread count.
bool splits_rows(const ExecutionContext& context, Index n, Backend backend);

const char* name(Isa isa);
const char* name(Backend backend);
const char* name(SplitPolicy policy);
const char* name(LanePolicy policy);
// The lane policy named "auto", "always" or "never" (std::invalid_argument otherwise).
LanePolicy parse_lane_policy(const std::string& text);

// What this build was compiled with: compiler, flags, the instruction sets of its kernels,
// OpenMP and BLAS (one line each, "key: value").
std::string build_info();

}  // namespace deeplinear
