// Eigen's SVDs, compiled once per scalar type (see decompositions.hpp): one-sided Jacobi below
// kJacobiMax (exact to rounding, and several times faster on a few rows than BDCSVD, whose own
// divide and conquer only starts above 16 rows), BDCSVD above.
#include <Eigen/SVD>
#include <deeplinear/decompositions.hpp>

#include <optional>

namespace deeplinear {

namespace {
constexpr Index kJacobiMax = 16;
}

template <class T>
struct Svd<T>::Impl {
    explicit Impl(Index dim) : small(dim <= kJacobiMax) {
        if (small) {
            jacobi.emplace(dim, dim, Eigen::ComputeThinU | Eigen::ComputeThinV);
        } else {
            svd.emplace(dim, dim, Eigen::ComputeThinU | Eigen::ComputeThinV);
        }
    }
    bool small;
    std::optional<Eigen::JacobiSVD<ColMatrix<T>, Eigen::NoQRPreconditioner>> jacobi;
    std::optional<Eigen::BDCSVD<ColMatrix<T>>> svd;
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
void Svd<T>::compute(const ColMatrix<T>& a, bool with_vectors) {
    const unsigned options = with_vectors ? Eigen::ComputeThinU | Eigen::ComputeThinV : 0;
    if (impl_->small) {
        impl_->jacobi->compute(a, options);
    } else {
        impl_->svd->compute(a, options);
    }
}
template <class T>
const ColVector<T>& Svd<T>::singular_values() const {
    return impl_->small ? impl_->jacobi->singularValues() : impl_->svd->singularValues();
}
template <class T>
const ColMatrix<T>& Svd<T>::u() const {
    return impl_->small ? impl_->jacobi->matrixU() : impl_->svd->matrixU();
}
template <class T>
const ColMatrix<T>& Svd<T>::v() const {
    return impl_->small ? impl_->jacobi->matrixV() : impl_->svd->matrixV();
}

template class Svd<double>;
template class Svd<float>;

}  // namespace deeplinear
