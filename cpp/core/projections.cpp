// The projections of projections.hpp, compiled once per scalar type.
#include <deeplinear/projections.hpp>

namespace deeplinear {

template <class T>
Projector<T>::Projector(Index dim) : work_(dim, dim), symmetric_(dim, dim), shifted_(dim, dim), eig_(dim), svd_(dim) {}

template <class T>
T Projector<T>::margin() {
    symmetric_ = T(0.5) * (work_ + work_.transpose());
    eig_.compute(symmetric_, false);
    return eig_.eigenvalues()(0);
}

template <class T>
void Projector<T>::project_positive(T gamma) {
    // The eigenvalues alone first (several times cheaper): A is often γ-positive already, e.g.
    // along power projection once the product nears a γ-positive target.
    if (!(margin() < gamma)) return;
    eig_.compute(symmetric_, true);
    const auto& lambda = eig_.eigenvalues();  // ascending
    Index clipped = 0;
    while (clipped < lambda.size() && lambda(clipped) < gamma) ++clipped;
    if (clipped == 0) return;
    auto vectors = eig_.eigenvectors().leftCols(clipped);
    shifted_.leftCols(clipped) = vectors * (gamma - lambda.head(clipped).array()).matrix().asDiagonal();
    work_.noalias() += shifted_.leftCols(clipped) * vectors.transpose();
}

template <class T>
void Projector<T>::project_identity_ball(T psi) {
    symmetric_ = work_;  // reused as the work matrix A − I
    symmetric_.diagonal().array() -= T(1);
    svd_.compute(symmetric_, true);
    const auto& sigma = svd_.singular_values();  // descending
    Index clipped = 0;
    while (clipped < sigma.size() && sigma(clipped) > psi) ++clipped;
    if (clipped == 0) return;
    shifted_.leftCols(clipped) = svd_.u().leftCols(clipped) * (sigma.head(clipped).array() - psi).matrix().asDiagonal();
    work_.noalias() -= shifted_.leftCols(clipped) * svd_.v().leftCols(clipped).transpose();
}

template class Projector<double>;
template class Projector<float>;

}  // namespace deeplinear
