// The private compiled module deeplinear._core; the public API is the Python package.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "deeplinear's C++/Eigen core (private: use the deeplinear package)";
    namespace b = deeplinear::bindings;
    b::register_core(m);
    b::register_projections(m);
    b::register_factorization(m);
    b::register_training(m);
    b::register_trainer(m);
    b::register_batch(m);
#ifdef DEEPLINEAR_OPENMP
    m.attr("has_openmp") = true;
#else
    m.attr("has_openmp") = false;
#endif
}
