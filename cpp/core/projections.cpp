// The projections of projections.hpp, compiled once per scalar type.
#include <deeplinear/projections.hpp>

#include <limits>

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
    // ‖A − I‖₂ ≤ ‖A − I‖_F: well inside the ball the projection leaves A as it is, and the SVD
    // would find every σ ≤ ψ. The slack covers the rounding of both norms, so that the shortcut
    // returns exactly where the SVD would have (a NaN or an overflow goes on to the SVD).
    const T slack = T(1) - T(16) * static_cast<T>(work_.rows()) * std::numeric_limits<T>::epsilon();
    if (slack > T(0) && symmetric_.norm() <= psi * slack) return;
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
