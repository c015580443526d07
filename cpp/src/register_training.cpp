// Bindings: the per-state diagnostics of a trajectory (diagnostics.hpp).
#include "bindings.hpp"

#include <deeplinear/diagnostics.hpp>

namespace deeplinear::bindings {

namespace {

template <class T>
void register_for(py::module_& m) {
    m.def(
        "diagnostics",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            py::array_t<double> out(kDiagnosticCount);
            double* data = out.mutable_data();
            {
                py::gil_scoped_release release;
                const auto context = call_context(1);
                EigenOnOneThread eigen;
                Diagnostics<T> diagnostics(layers.depth, layers.dim, context);
                diagnostics.compute(layers, phi, data);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());
}

}  // namespace

void register_training(py::module_& m) {
    py::list names;
    for (const char* name : kDiagnosticNames) names.append(name);
    m.attr("diagnostic_names") = py::tuple(names);
    register_for<double>(m);
    register_for<float>(m);
}

}  // namespace deeplinear::bindings
