// Eigen's BDCSVD, compiled once per scalar type (see decompositions.hpp).
#include <Eigen/SVD>
#include <deeplinear/decompositions.hpp>

namespace deeplinear {

template <class T>
struct Svd<T>::Impl {
    explicit Impl(Index dim) : svd(dim, dim, Eigen::ComputeThinU | Eigen::ComputeThinV) {}
    Eigen::BDCSVD<ColMatrix<T>> svd;
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
    impl_->svd.compute(a, with_vectors ? Eigen::ComputeThinU | Eigen::ComputeThinV : 0);
}
template <class T>
const ColVector<T>& Svd<T>::singular_values() const {
    return impl_->svd.singularValues();
}
template <class T>
const ColMatrix<T>& Svd<T>::u() const {
    return impl_->svd.matrixU();
}
template <class T>
const ColMatrix<T>& Svd<T>::v() const {
    return impl_->svd.matrixV();
}

template class Svd<double>;
template class Svd<float>;

}  // namespace deeplinear
