// Threads that share a call's work. Eigen's own products inside the decompositions may use
// OpenMP threads: the context's count for one scope, set for the calling thread only (OpenMP's
// per-thread setting), so concurrent calls from several threads do not interfere. And helper
// threads compute under the calling thread's floating-point environment.
#pragma once

#include "execution.hpp"

#include <cfenv>

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

// The calling thread's floating-point environment, for the helper threads that share its work:
// its rounding mode and, on x86, the flush-to-zero and denormals-are-zero flags that a library
// built with -ffast-math sets in the thread that loads it. Without them a helper (OpenMP's pool
// keeps its threads, with the environment they started with) would round subnormal results
// differently, and the bits would depend on the thread count.
class CallerFloatEnvironment {
public:
    CallerFloatEnvironment() { std::fegetenv(&caller_); }  // in the calling thread

    // In a helper thread: the caller's environment for this scope, then the helper's own again.
    class Adopted {
    public:
        explicit Adopted(const CallerFloatEnvironment& caller) {
            std::fegetenv(&own_);
            std::fesetenv(&caller.caller_);
        }
        ~Adopted() { std::fesetenv(&own_); }
        Adopted(const Adopted&) = delete;
        Adopted& operator=(const Adopted&) = delete;

    private:
        std::fenv_t own_;
    };

private:
    std::fenv_t caller_;
};

class OpenMpThreads {
public:
    explicit OpenMpThreads(const ExecutionContext& context) {
#ifdef DEEPLINEAR_OPENMP
        previous_ = omp_get_max_threads();
        omp_set_num_threads(context.threads);
#else
        (void)context;
#endif
    }
    ~OpenMpThreads() {
#ifdef DEEPLINEAR_OPENMP
        omp_set_num_threads(previous_);
#endif
    }
    OpenMpThreads(const OpenMpThreads&) = delete;
    OpenMpThreads& operator=(const OpenMpThreads&) = delete;

private:
    int previous_ = 1;
};

}  // namespace deeplinear
