// LAPACK's gesdd and gees from the scipy-openblas32 wheel (see lapack.hpp).
#include <algorithm>
#include <cstddef>
#include <deeplinear/lapack.hpp>
#include <limits>

#include "blas.hpp"

#ifdef DEEPLINEAR_BLAS
extern "C" {
// Fortran interfaces with the wheel's "scipy_" prefix; the trailing size_t arguments are the
// hidden lengths of the character arguments (ignored by a LAPACK that does not expect them).
using DoubleSelect = int (*)(const double*, const double*);
using FloatSelect = int (*)(const float*, const float*);
void scipy_dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
                   const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info,
                   std::size_t jobz_length);
void scipy_sgesdd_(const char* jobz, const int* m, const int* n, float* a, const int* lda, float* s, float* u,
                   const int* ldu, float* vt, const int* ldvt, float* work, const int* lwork, int* iwork, int* info,
                   std::size_t jobz_length);
void scipy_dgees_(const char* jobvs, const char* sort, DoubleSelect select, const int* n, double* a, const int* lda,
                  int* sdim, double* wr, double* wi, double* vs, const int* ldvs, double* work, const int* lwork,
                  int* bwork, int* info, std::size_t jobvs_length, std::size_t sort_length);
void scipy_sgees_(const char* jobvs, const char* sort, FloatSelect select, const int* n, float* a, const int* lda,
                  int* sdim, float* wr, float* wi, float* vs, const int* ldvs, float* work, const int* lwork,
                  int* bwork, int* info, std::size_t jobvs_length, std::size_t sort_length);
}
#endif

namespace deeplinear {

namespace {

#ifdef DEEPLINEAR_BLAS
// job "S": σ, U and Vᵀ; job "N": σ alone (its workspace is smaller than that of "S").
void gesdd(const char* job, int n, double* a, double* s, double* u, double* vt, double* work, int lwork, int* iwork,
           int* info) {
    scipy_dgesdd_(job, &n, &n, a, &n, s, u, &n, vt, &n, work, &lwork, iwork, info, 1);
}
void gesdd(const char* job, int n, float* a, float* s, float* u, float* vt, float* work, int lwork, int* iwork,
           int* info) {
    scipy_sgesdd_(job, &n, &n, a, &n, s, u, &n, vt, &n, work, &lwork, iwork, info, 1);
}
void gees(int n, double* a, double* wr, double* wi, double* vs, double* work, int lwork, int* bwork, int* info) {
    int sdim = 0;
    scipy_dgees_("V", "N", nullptr, &n, a, &n, &sdim, wr, wi, vs, &n, work, &lwork, bwork, info, 1, 1);
}
void gees(int n, float* a, float* wr, float* wi, float* vs, float* work, int lwork, int* bwork, int* info) {
    int sdim = 0;
    scipy_sgees_("V", "N", nullptr, &n, a, &n, &sdim, wr, wi, vs, &n, work, &lwork, bwork, info, 1, 1);
}
#endif

// The workspace size LAPACK reports for a query (lwork = −1), as an int; 0 when it does not fit
// LAPACK's int (float64 gesdd past d ≈ 26,750), which the callers read as no LAPACK at that size:
// they use Eigen.
template <class T>
int queried(T size) {
    if (!(size < static_cast<T>(std::numeric_limits<int>::max()))) return 0;
    return static_cast<int>(std::max<T>(size, T(1)));
}

#ifdef DEEPLINEAR_BLAS
bool fits_int(Index dim) { return dim > 0 && dim <= 46340; }  // n² must fit LAPACK's int
#endif

}  // namespace

bool lapack_available() {
#ifdef DEEPLINEAR_BLAS
    return true;
#else
    return false;
#endif
}

template <class T>
LapackSvd<T>::LapackSvd(Index dim) : dim_(dim), sigma_(dim), iwork_(static_cast<std::size_t>(8 * dim)) {
#ifdef DEEPLINEAR_BLAS
    if (!fits_int(dim)) return;
    T size = T(0), none = T(0);
    int info = 0;
    gesdd("S", static_cast<int>(dim), &none, sigma_.data(), &none, &none, &size, -1, iwork_.data(), &info);
    if (info == 0) lwork_ = queried(size);
#endif
}

template <class T>
bool LapackSvd<T>::compute(const ColMatrix<T>& a, bool vectors) {
    if (lwork_ == 0) return false;
    if (work_.empty()) {
        work_.resize(static_cast<std::size_t>(lwork_));
        u_.resize(dim_, dim_);
        vt_.resize(dim_, dim_);
    }
    work_matrix_ = a;
    return run(vectors ? "S" : "N", work_matrix_.data(), u_.data(), vt_.data(), work_.data());
}

template <class T>
bool LapackSvd<T>::compute_lent(T* a, T* u, T* vt, T* work) {
    return lwork_ != 0 && run("S", a, u, vt, work);
}

template <class T>
bool LapackSvd<T>::run(const char* job, T* a, T* u, T* vt, T* work) {
#ifdef DEEPLINEAR_BLAS
    if (!Eigen::Map<const ColMatrix<T>>(a, dim_, dim_).allFinite()) return false;  // (may not terminate on NaN)
    int info = 0;
    const blas::ThreadGate gate(1);
    gesdd(job, static_cast<int>(dim_), a, sigma_.data(), u, vt, work, lwork_, iwork_.data(), &info);
    return info == 0;
#else
    (void)job;
    (void)a;
    (void)u;
    (void)vt;
    (void)work;
    return false;
#endif
}

template <class T>
LapackSchur<T>::LapackSchur(Index dim)
    : dim_(dim), t_(dim, dim), q_(dim, dim), real_(dim), imag_(dim), bwork_(static_cast<std::size_t>(dim)) {
#ifdef DEEPLINEAR_BLAS
    if (!fits_int(dim)) return;
    T size = T(0);
    int info = 0;
    gees(static_cast<int>(dim), t_.data(), real_.data(), imag_.data(), q_.data(), &size, -1, bwork_.data(), &info);
    if (info == 0) work_.resize(static_cast<std::size_t>(queried(size)));
#endif
}

template <class T>
bool LapackSchur<T>::compute(const ColMatrix<T>& a) {
#ifdef DEEPLINEAR_BLAS
    if (work_.empty() || !a.allFinite()) return false;
    t_ = a;
    int info = 0;
    const blas::ThreadGate gate(1);
    gees(static_cast<int>(dim_), t_.data(), real_.data(), imag_.data(), q_.data(), work_.data(),
         static_cast<int>(work_.size()), bwork_.data(), &info);
    return info == 0;
#else
    (void)a;
    return false;
#endif
}

template class LapackSvd<double>;
template class LapackSvd<float>;
template class LapackSchur<double>;
template class LapackSchur<float>;

}  // namespace deeplinear
