// The SVDs of decompositions.hpp, compiled once per scalar type: Eigen's two-sided Jacobi up to
// kJacobiMax rows (exact to rounding, and several times faster on a few rows than anything
// blocked), LAPACK's gesdd above (one BLAS thread) where the build has it, and Jacobi again
// where it has not or where gesdd fails (non-finite input); the singular values alone, where
// gesdd is not used, by one-sided Jacobi (one_sided_jacobi.cpp). Never Eigen 3.4's BDCSVD: its
// deflation can index out of bounds on matrices with clustered singular values (a float32
// step-and-project run at d = 40 crashed in BDCSVD::computeSVDofM; tests/test_projections.py
// keeps that run).
#include <Eigen/SVD>
#include <deeplinear/decompositions.hpp>
#include <deeplinear/lapack.hpp>

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>

namespace deeplinear {

namespace {
constexpr Index kJacobiMax = 16;
}

template <class T>
struct Svd<T>::Impl {
    explicit Impl(Index rows) : dim(rows) {
        if (rows > kJacobiMax && lapack_available()) lapack.emplace(rows);
    }
    Index dim;
    std::optional<LapackSvd<T>> lapack;
    bool from_lapack = false, failed = false;
    ColMatrix<T> v;          // Vᵀ of gesdd, transposed
    ColVector<T> nan_sigma;  // the singular values after a failure
    std::optional<Eigen::JacobiSVD<ColMatrix<T>, Eigen::NoQRPreconditioner>> jacobi;
    // σ alone without gesdd: one-sided Jacobi (two to three times faster at d = 4-10), sorted
    std::optional<OneSidedJacobi<T>> columns;
    bool from_columns = false;
    ColVector<T> sorted;
};

template <class T>
Svd<T>::Svd(Index dim) : impl_(std::make_unique<Impl>(dim)) {}
template <class T>
Svd<T>::~Svd() = default;
template <class T>
Svd<T>::Svd(Svd&&) noexcept = default;
template <class T>
Svd<T>& Svd<T>::operator=(Svd&&) noexcept = default;

template <class T>
bool Svd<T>::compute(const ColMatrix<T>& a, bool with_vectors) {
    Impl& impl = *impl_;
    impl.failed = false;
    impl.from_columns = false;
    impl.from_lapack = impl.lapack && impl.lapack->compute(a, with_vectors);
    if (impl.from_lapack) {
        if (with_vectors) impl.v = impl.lapack->vt().transpose();
        return true;
    }
    if (!with_vectors) {
        if (!impl.columns) impl.columns.emplace(impl.dim);
        if (impl.columns->compute(a, false)) {  // else (not finite, an extreme scale) Jacobi below
            impl.sorted = impl.columns->sigma();
            std::sort(impl.sorted.begin(), impl.sorted.end(), std::greater<T>());
            impl.from_columns = true;
            return true;
        }
    }
    if (!impl.jacobi) impl.jacobi.emplace(impl.dim, impl.dim, Eigen::ComputeThinU | Eigen::ComputeThinV);
    impl.jacobi->compute(a, with_vectors ? Eigen::ComputeThinU | Eigen::ComputeThinV : 0);
    // Jacobi returns without writing anything on non-finite input (InvalidInput): what it holds
    // is an earlier matrix's.
    impl.failed = impl.jacobi->info() != Eigen::Success;
    if (impl.failed) impl.nan_sigma.setConstant(impl.dim, std::numeric_limits<T>::quiet_NaN());
    return !impl.failed;
}
template <class T>
bool Svd<T>::compute_lent(T* a, T* u, T* vt, T* work) {
    Impl& impl = *impl_;
    impl.failed = false;
    impl.from_columns = false;
    impl.from_lapack = impl.lapack && impl.lapack->compute_lent(a, u, vt, work);
    return impl.from_lapack;
}
template <class T>
Index Svd<T>::lent_work_size() const {
    return impl_->lapack ? impl_->lapack->work_size() : 0;
}
template <class T>
const ColVector<T>& Svd<T>::singular_values() const {
    if (impl_->failed) return impl_->nan_sigma;
    if (impl_->from_columns) return impl_->sorted;
    return impl_->from_lapack ? impl_->lapack->sigma() : impl_->jacobi->singularValues();
}
template <class T>
const ColMatrix<T>& Svd<T>::u() const {
    return impl_->from_lapack ? impl_->lapack->u() : impl_->jacobi->matrixU();
}
template <class T>
const ColMatrix<T>& Svd<T>::v() const {
    return impl_->from_lapack ? impl_->v : impl_->jacobi->matrixV();
}

template class Svd<double>;
template class Svd<float>;

}  // namespace deeplinear
