// Eigen's RealSchur, compiled once per scalar type (see decompositions.hpp).
#include <Eigen/Eigenvalues>
#include <deeplinear/decompositions.hpp>

namespace deeplinear {

template <class T>
struct RealSchur<T>::Impl {
    explicit Impl(Index dim) : schur(dim) {}
    Eigen::RealSchur<ColMatrix<T>> schur;
};

template <class T>
RealSchur<T>::RealSchur(Index dim) : impl_(std::make_unique<Impl>(dim)) {}
template <class T>
RealSchur<T>::~RealSchur() = default;
template <class T>
RealSchur<T>::RealSchur(RealSchur&&) noexcept = default;
template <class T>
RealSchur<T>& RealSchur<T>::operator=(RealSchur&&) noexcept = default;

template <class T>
bool RealSchur<T>::compute(const ColMatrix<T>& a) {
    impl_->schur.compute(a, /*computeU=*/true);
    return impl_->schur.info() == Eigen::Success;
}
template <class T>
const ColMatrix<T>& RealSchur<T>::t() const {
    return impl_->schur.matrixT();
}
template <class T>
const ColMatrix<T>& RealSchur<T>::q() const {
    return impl_->schur.matrixU();
}

template class RealSchur<double>;
template class RealSchur<float>;

}  // namespace deeplinear
