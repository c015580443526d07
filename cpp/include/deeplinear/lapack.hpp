// LAPACK decompositions from the OpenBLAS of the BLAS shim (DEEPLINEAR_BLAS): the SVD (gesdd)
// and the real Schur form (gees) of the balanced factorization, blocked and several times
// faster than Eigen's at d ≥ 64. Defined in cpp/kernels/lapack.cpp; workspaces are sized once, so a
// training loop allocates nothing per step. compute() runs on one BLAS thread, whatever the call's
// count: LAPACK's results depend on its thread count (see cpp/kernels/blas.hpp; two threads moved
// power projection's layers by 5e-15 at d = 256), and up to d = 512 one thread was the faster
// (benchmarks/test_bench_train.py::test_power_projection_threads). It returns false when the
// build has no LAPACK (lapack_available()) or LAPACK reports failure; callers then use Eigen.
#pragma once

#include "common.hpp"

#include <vector>

namespace deeplinear {

bool lapack_available();

// A = U diag(σ) Vᵀ for square A, σ descending (with `vectors` false, σ alone: u() and vt() are
// then left as they were). The constructor only sizes the workspace; compute() allocates its
// matrices on first use, and compute_lent() never does.
template <class T>
class LapackSvd {
public:
    explicit LapackSvd(Index dim);
    bool compute(const ColMatrix<T>& a, bool vectors = true);
    // The same with σ, U and Vᵀ on buffers the caller lends: a (d × d, column-major, destroyed),
    // u and vt (d × d each) and work (work_size() elements); σ in sigma(), u() and vt() untouched.
    bool compute_lent(T* a, T* u, T* vt, T* work);
    // The elements of gesdd's workspace (σ, U and Vᵀ): 3d² + 7d; 0 where there is no LAPACK.
    Index work_size() const { return lwork_; }
    const ColMatrix<T>& u() const { return u_; }
    const ColVector<T>& sigma() const { return sigma_; }
    const ColMatrix<T>& vt() const { return vt_; }

private:
    // gesdd with `job` ("S" or "N") on a finite `a` (destroyed), on one BLAS thread.
    bool run(const char* job, T* a, T* u, T* vt, T* work);

    Index dim_;
    int lwork_ = 0;
    ColMatrix<T> work_matrix_, u_, vt_;
    ColVector<T> sigma_;
    std::vector<T> work_;
    std::vector<int> iwork_;
};

// A = Q T Qᵀ, T quasi-upper-triangular (1×1 and 2×2 diagonal blocks), Q orthogonal.
template <class T>
class LapackSchur {
public:
    explicit LapackSchur(Index dim);
    bool compute(const ColMatrix<T>& a);
    const ColMatrix<T>& t() const { return t_; }
    const ColMatrix<T>& q() const { return q_; }

private:
    Index dim_;
    ColMatrix<T> t_, q_;
    ColVector<T> real_, imag_;
    std::vector<T> work_;
    std::vector<int> bwork_;
};

}  // namespace deeplinear
