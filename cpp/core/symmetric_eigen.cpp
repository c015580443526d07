// Eigen's SelfAdjointEigenSolver, compiled once per scalar type (see decompositions.hpp).
#include <Eigen/Eigenvalues>
#include <deeplinear/decompositions.hpp>

namespace deeplinear {

template <class T>
struct SymmetricEigen<T>::Impl {
    explicit Impl(Index dim) : solver(dim) {}
    Eigen::SelfAdjointEigenSolver<ColMatrix<T>> solver;
};

template <class T>
SymmetricEigen<T>::SymmetricEigen(Index dim) : impl_(std::make_unique<Impl>(dim)) {}
template <class T>
SymmetricEigen<T>::~SymmetricEigen() = default;
template <class T>
SymmetricEigen<T>::SymmetricEigen(SymmetricEigen&&) noexcept = default;
template <class T>
SymmetricEigen<T>& SymmetricEigen<T>::operator=(SymmetricEigen&&) noexcept = default;

template <class T>
void SymmetricEigen<T>::compute(const ColMatrix<T>& a, bool with_vectors) {
    impl_->solver.compute(a, with_vectors ? Eigen::ComputeEigenvectors : Eigen::EigenvaluesOnly);
}
template <class T>
const ColVector<T>& SymmetricEigen<T>::eigenvalues() const {
    return impl_->solver.eigenvalues();
}
template <class T>
const ColMatrix<T>& SymmetricEigen<T>::eigenvectors() const {
    return impl_->solver.eigenvectors();
}

template class SymmetricEigen<double>;
template class SymmetricEigen<float>;

}  // namespace deeplinear
