"""Fuzz target: the kernel entry points (brisknet.kernels) with shapes, dtypes, strides and values
drawn from the fuzzer's bytes. Each call must match numpy or raise ValueError/TypeError; never a
crash. Run: python fuzz/fuzz_kernels.py -max_total_time=60"""
import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    from brisknet import kernels, testing

DTYPES = [np.float32, np.float64, np.float16, np.int32, np.bool_, np.uint8]
ACTS = list(kernels.ACTIVATIONS)


def array(fdp, shape):
    dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    n = int(np.prod(shape)) if shape else 1
    values = np.array(fdp.ConsumeFloatListInRange(n, -1e3, 1e3) + [0.0] * n, np.float64)[:n]
    a = values.reshape(shape).astype(dtype)
    form = fdp.ConsumeIntInRange(0, 3)
    if form == 1 and a.ndim == 2:
        a = np.asfortranarray(a)
    elif form == 2 and a.ndim >= 1 and a.shape[0] > 1:
        a = a[::-1]
    elif form == 3:
        a.setflags(write=False)
    return a


def dims(fdp, k):
    return tuple(fdp.ConsumeIntInRange(0, 9) for _ in range(k))


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 11)
    try:
        if which == 0:
            m, k, n = dims(fdp, 3)
            ta, tb = fdp.ConsumeBool(), fdp.ConsumeBool()
            a = array(fdp, (k, m) if ta else (m, k))
            b = array(fdp, (n, k) if tb else (k, n))
            got = kernels.matmul(a, b, ta, tb)
            # the bound is relative to the sum of |products|: cancellation may lose digits
            # (999.995 * -1000 + 1000 * 1000 is 4.625 in float32, 4.639 exactly)
            testing.assert_close(got, testing.matmul(a, b, ta, tb), testing.matmul_error_bound(a, b, ta, tb))
        elif which == 1:
            x = array(fdp, dims(fdp, fdp.ConsumeIntInRange(0, 3)))
            kernels.activation(x, ACTS[fdp.ConsumeIntInRange(0, len(ACTS) - 1)])
        elif which == 2:
            rows, cols = dims(fdp, 2)
            labels = np.array([fdp.ConsumeIntInRange(-2, 12) for _ in range(rows)])
            kernels.sparse_categorical_crossentropy(labels, array(fdp, (rows, cols)), from_logits=fdp.ConsumeBool(),
                                                return_grad=True)
        elif which == 3:
            n = fdp.ConsumeIntInRange(0, 40)
            p, g = array(fdp, (n,)), array(fdp, (fdp.ConsumeIntInRange(0, 40),))
            m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
            kernels.adam_step(p, g, m, v, fdp.ConsumeIntInRange(-1, 3))
        elif which == 4:
            h, dz = array(fdp, dims(fdp, 2)), array(fdp, dims(fdp, 2))
            kernels.dense_params_grad(h, dz)
        elif which == 5:
            x, w = array(fdp, dims(fdp, 2)), array(fdp, dims(fdp, 2))
            kernels.dense_forward(x, w, None, ACTS[fdp.ConsumeIntInRange(0, len(ACTS) - 1)])
        elif which == 6:
            shape = dims(fdp, 2)
            kernels.activation_grad(array(fdp, shape), array(fdp, shape), array(fdp, dims(fdp, 2) if fdp.ConsumeBool()
                                else shape), ACTS[fdp.ConsumeIntInRange(0, len(ACTS) - 1)])
        elif which == 7:
            shape = dims(fdp, 2)
            loss = [kernels.categorical_crossentropy, kernels.binary_crossentropy, kernels.mean_squared_error,
                    kernels.mean_absolute_error, kernels.huber][fdp.ConsumeIntInRange(0, 4)]
            loss(array(fdp, shape), array(fdp, shape if fdp.ConsumeBool() else dims(fdp, 2)), return_grad=True)
        elif which == 8:
            n = fdp.ConsumeIntInRange(0, 40)
            kernels.sgd_step(array(fdp, (n,)), array(fdp, (n,)), np.zeros(n, np.float32) if fdp.ConsumeBool() else None,
                         momentum=fdp.ConsumeFloatInRange(0.0, 1.0))
        elif which == 9:
            n = fdp.ConsumeIntInRange(0, 40)
            kernels.rmsprop_step(array(fdp, (n,)), array(fdp, (n,)), np.zeros(n, np.float32))
            kernels.adagrad_step(array(fdp, (n,)), array(fdp, (n,)), np.zeros(n, np.float32))
        elif which == 10:
            x = array(fdp, dims(fdp, 2))
            y, mask = kernels.dropout(x, fdp.ConsumeFloatInRange(-0.5, 1.5), fdp.ConsumeIntInRange(0, 2**40))
            kernels.dropout_grad(y, mask, 0.5)
        else:
            kernels.column_sums(array(fdp, dims(fdp, 2)))
    except (ValueError, TypeError):
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
