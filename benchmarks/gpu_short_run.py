"""A short training run on the GPU for compute-sanitizer (memcheck, racecheck): every kind of
layer, a split-k GEMM (batch 32), a partial last batch, a GEMM epilogue activation and a
separate one, dropout, clipping, predict and the weights copied back; then a convnet with every
image layer (convolutions with groups, strides, dilation and padding, transposed, depthwise and
separable; pooling; padding, cropping, upsampling; SpatialDropout)."""
import numpy as np

import brisknet as keras
from brisknet import layers

rng = np.random.default_rng(0)
x = rng.standard_normal((100, 96)).astype(np.float32)
y = rng.integers(0, 10, 100)
keras.utils.set_random_seed(0)
model = keras.Sequential([layers.Rescaling(0.5), layers.Dense(128, activation="relu", kernel_regularizer="l2"),
                          layers.Dropout(0.2), layers.Dense(64, activation="gelu"), layers.Activation("tanh"),
                          layers.Dense(10, activation="softmax")], device="cuda")
model.compile(optimizer=keras.optimizers.Adam(global_clipnorm=1.0), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
keras.cuda.allow_tf32 = True
model.fit(x, y, batch_size=64, epochs=1, verbose=0)
print("losses", history.history["loss"], "predict", model.predict(x[:5], verbose=0).sum(axis=1),
      "weights", sum(float(np.abs(w).sum()) for w in model.get_weights()))

keras.cuda.allow_tf32 = False
images = rng.standard_normal((100, 10, 10, 4)).astype(np.float32)
convnet = keras.Sequential([
    keras.Input((10, 10, 4)), layers.ZeroPadding2D(1), layers.Conv2D(8, 3, groups=2, activation="relu"),
    layers.MaxPooling2D(2), layers.SpatialDropout2D(0.2), layers.Conv2DTranspose(6, 3, strides=2, activation="tanh"),
    layers.Cropping2D(((1, 0), (0, 1))), layers.DepthwiseConv2D(3, strides=2, padding="same"),
    layers.UpSampling2D(2), layers.SeparableConv2D(8, 3, dilation_rate=2, activation="relu"),
    layers.AveragePooling2D(2, padding="same"), layers.Flatten(), layers.Dense(10, activation="softmax")],
    device="cuda")
convnet.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
history = convnet.fit(images, y, batch_size=32, epochs=2, verbose=0)
print("convnet losses", history.history["loss"], "predict", convnet.predict(images[:5], verbose=0).sum(axis=1))
