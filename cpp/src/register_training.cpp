// Bindings: many training steps in one call (all methods, and the exact spectral dynamics).
#include "run_released.hpp"

#include <deeplinear/fixed_stepper.hpp>
#include <deeplinear/power_projection.hpp>
#include <deeplinear/spectral.hpp>
#include <pybind11/stl.h>

#include <optional>
#include <string>

namespace deeplinear::bindings {

namespace {

Method parse_method(const std::string& name) {
    if (name == "gd") return Method::gd;
    if (name == "penalty") return Method::penalty;
    if (name == "step_and_project") return Method::step_and_project;
    if (name == "power_projection") return Method::power_projection;
    throw py::value_error("method must be one of 'gd', 'penalty', 'step_and_project', 'power_projection'");
}

LoopOptions loop_options(std::int64_t max_steps, double tol, std::int64_t record_every, std::int64_t first_step,
                         bool record_first) {
    if (max_steps < 0) throw py::value_error("max_steps must be >= 0");
    if (record_every < 1) throw py::value_error("record_every must be >= 1");
    LoopOptions options;
    options.max_steps = max_steps;
    options.tol = tol;
    options.record_every = record_every;
    options.first_step = first_step;
    options.record_first = record_first;
    return options;
}

template <class T>
void register_for(py::module_& m) {
    m.def(
        "run",
        [](Array<T>& layers_array, const Array<T>& phi_array, const std::string& method, double lr, double gamma,
           double psi, double kappa, std::int64_t max_steps, double tol, std::int64_t record_every,
           std::int64_t first_step, bool record_first, int threads, bool diagnostics,
           std::optional<Array<T>> product, bool resume_product, const std::string& isa, const std::string& backend,
           const std::string& split) {
            const auto layers = mutable_layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            MethodParams<T> params;
            params.method = parse_method(method);
            params.lr = static_cast<T>(lr);
            params.gamma = static_cast<T>(gamma);
            params.psi = static_cast<T>(psi);
            params.kappa = static_cast<T>(kappa);
            const auto context = call_context(threads, isa, backend, split);
            const auto options = loop_options(max_steps, tol, record_every, first_step, record_first);
            const bool whole_steps = !needs_decompositions(params.method);
            if (choose_backend(context, layers.dim, dtype_of<T>, whole_steps) == Backend::fixed) {
                FixedStepper<T> stepper(layers, phi, params, context);
                return run_released(stepper, options, context, diagnostics);
            }
            if (params.method == Method::power_projection) {
                // `product`: Ψ of the final state (when it has been stepped or resumed); with
                // resume_product, on entry the Ψ whose balanced factors `layers` are.
                T* product_data = nullptr;
                if (product) {
                    matrix_view<T>(*product, "product", layers.dim);
                    if (!product->writeable()) throw py::value_error("product must be writable");
                    product_data = product->mutable_data();
                }
                PowerProjectionStepper<T> stepper(layers, phi, params, product_data, resume_product, context);
                return run_released(stepper, options, context, diagnostics);
            }
            DenseStepper<T> stepper(layers, phi, params, context);
            return run_released(stepper, options, context, diagnostics);
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::arg("method"), py::arg("lr"),
        py::arg("gamma") = 0.0, py::arg("psi") = 0.0, py::arg("kappa") = 0.0, py::arg("max_steps"),
        py::arg("tol") = 0.0, py::arg("record_every") = 1, py::arg("first_step") = 0,
        py::arg("record_first") = true, py::arg("threads") = 1, py::arg("diagnostics") = false,
        py::arg("product").noconvert() = py::none(), py::arg("resume_product") = false, py::arg("isa") = "auto",
        py::arg("backend") = "auto", py::arg("split") = "timed");

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
                OpenMpThreads threads(context);
                Diagnostics<T> diagnostics(layers.depth, layers.dim, context);
                diagnostics.compute(layers, phi, data);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());

    m.def(
        "spectral_run",
        [](Array<T>& a_array, const Array<T>& mu_array, Index depth, double lr, std::int64_t max_steps, double tol,
           std::int64_t record_every, std::int64_t first_step, bool record_first) {
            if (a_array.ndim() != 1 || mu_array.ndim() != 1 || a_array.shape(0) != mu_array.shape(0) ||
                a_array.shape(0) < 1) {
                throw py::value_error("a and mu must be 1-D arrays of the same length d >= 1");
            }
            if (!a_array.writeable()) throw py::value_error("a must be writable");
            if (depth < 1) throw py::value_error("depth must be >= 1");
            const auto options = loop_options(max_steps, tol, record_every, first_step, record_first);
            SpectralStepper<T> stepper(a_array.mutable_data(), mu_array.data(), a_array.shape(0), depth,
                                       static_cast<T>(lr));
            return run_released(stepper, options, call_context(1), false);
        },
        py::arg("a").noconvert(), py::arg("mu").noconvert(), py::arg("depth"), py::arg("lr"), py::arg("max_steps"),
        py::arg("tol") = 0.0, py::arg("record_every") = 1, py::arg("first_step") = 0,
        py::arg("record_first") = true);
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
