// Eigen's own products inside the decompositions may use OpenMP threads: the context's count for
// one scope, set for the calling thread only (OpenMP's per-thread setting), so concurrent calls
// from several threads do not interfere.
#pragma once

#include "execution.hpp"

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

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
