// swift-tools-version: 6.0
// Blip2Lab: a research sandbox for the BLIP-2 method (frozen image encoder + frozen LM + trainable Q-Former).
import PackageDescription

let package = Package(
  name: "Blip2Lab",
  products: [
    .executable(name: "blip2lab", targets: ["blip2lab"]),
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "Blip2Core", targets: ["Blip2Core"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // C libraries from Debian, found through pkg-config.
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CLua", path: "Sources/CLua", pkgConfig: "lua5.4",
      providers: [.apt(["liblua5.4-dev"])]),
    .systemLibrary(
      name: "CGraphviz", path: "Sources/CGraphviz", pkgConfig: "libgvc",
      providers: [.apt(["libgraphviz-dev"])]),
    .systemLibrary(
      name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
      providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
      name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
      providers: [.apt(["libjpeg62-turbo-dev"])]),

    // n-d Float32 tensors, autograd, modules, optimizers, safetensors. Knows nothing of BLIP-2.
    .target(
      name: "Tensor", dependencies: ["CBLAS"], path: "Sources/Tensor",
      // Release: no overflow/bounds traps in the kernels (their indices are checked at the op boundary),
      // and code for the CPU that builds it (everything is built from source on the machine that runs
      // it), so the elementwise kernels use AVX2/AVX-512 where the machine has them.
      swiftSettings: [.unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release))]),
    // The engine: protocols, masks, losses, trainers.
    .target(name: "Blip2Core", dependencies: ["Tensor"], path: "Sources/Blip2Core"),
    // PNG and JPEG decoding (libpng, libjpeg-turbo), PIL-compatible resizing, centre crops.
    .target(name: "ImageIO", dependencies: ["CPNG", "CJPEG", "Blip2Core"], path: "Sources/ImageIO"),

    // Plugins: one target per component family, each registering itself with the Registry.
    .target(name: "QFormer", dependencies: ["Blip2Core", "Tensor", "HFTokenizers"], path: "Plugins/QFormer"),
    .target(name: "ViT", dependencies: ["Blip2Core", "Tensor"], path: "Plugins/ViT"),
    .target(name: "ConvNet", dependencies: ["Blip2Core", "Tensor"], path: "Plugins/ConvNet"),
    .target(name: "DecoderLM", dependencies: ["Blip2Core", "Tensor", "HFTokenizers"], path: "Plugins/DecoderLM"),
    .target(name: "EncoderDecoderLM", dependencies: ["Blip2Core", "Tensor", "HFTokenizers"],
            path: "Plugins/EncoderDecoderLM"),
    .target(name: "Shapes", dependencies: ["Blip2Core", "Tensor"], path: "Plugins/Shapes"),
    .target(name: "LinearBridge", dependencies: ["Blip2Core", "Tensor"], path: "Plugins/LinearBridge"),
    .target(name: "HFTokenizers", dependencies: ["Blip2Core"], path: "Plugins/HFTokenizers"),
    // Whole Hugging Face BLIP-2 checkpoints (vision tower + Q-Former + projection + OPT/T5): load, run, export.
    .target(name: "Blip2Checkpoints",
            dependencies: ["Blip2Core", "Tensor", "ViT", "QFormer", "DecoderLM", "EncoderDecoderLM", "HFTokenizers"],
            path: "Plugins/Blip2Checkpoints"),
    .target(name: "ImageFolder", dependencies: ["Blip2Core", "ImageIO"], path: "Plugins/ImageFolder"),

    // Lua 5.4 embedded: the `lab` module experiment scripts use (`lab.render` draws with Rendering).
    .target(name: "Scripting", dependencies: ["CLua", "Blip2Core", "Tensor", "Rendering"], path: "Sources/Scripting"),

    // Graphviz drawings of masks, models and attention maps (libgvc in-process).
    .target(name: "Rendering", dependencies: ["CGraphviz", "Blip2Core", "Tensor"], path: "Sources/Rendering"),

    // Everything put together: the registry of all built-in plugins and a script engine ready for experiments.
    .target(
      name: "LabKit",
      dependencies: ["Blip2Core", "Scripting", "Rendering", "ImageIO", "QFormer", "ViT", "ConvNet", "DecoderLM",
                     "EncoderDecoderLM", "Shapes", "ImageFolder", "LinearBridge", "Blip2Checkpoints"],
      path: "Sources/LabKit"),

    .executableTarget(
      name: "blip2lab",
      dependencies: [
        "Tensor", "Blip2Core", "Scripting", "Rendering", "LabKit", "QFormer", "DecoderLM", "Blip2Checkpoints",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Sources/blip2lab"),

    .testTarget(name: "TensorTests", dependencies: ["Tensor"], path: "Tests/TensorTests",
                resources: [.copy("Fixtures")]),
    .testTarget(name: "Blip2CoreTests", dependencies: ["Blip2Core", "Tensor"], path: "Tests/Blip2CoreTests"),
    .testTarget(name: "ScriptingTests", dependencies: ["Scripting", "Blip2Core", "Rendering"], path: "Tests/ScriptingTests"),
    .testTarget(name: "RenderingTests", dependencies: ["Rendering", "Blip2Core"], path: "Tests/RenderingTests",
                resources: [.copy("Fixtures")]),
    .testTarget(name: "EncoderTests", dependencies: ["ViT", "ConvNet", "Blip2Core", "Tensor"], path: "Tests/EncoderTests",
                resources: [.copy("Fixtures")]),
    .testTarget(name: "LanguageModelTests", dependencies: ["DecoderLM", "EncoderDecoderLM", "Blip2Core", "Tensor"],
                path: "Tests/LanguageModelTests", resources: [.copy("Fixtures")]),
    .testTarget(name: "ShapesTests", dependencies: ["Shapes", "Blip2Core", "Tensor"], path: "Tests/ShapesTests",
                resources: [.copy("Fixtures")]),
    .testTarget(name: "EndToEndTests", dependencies: ["LabKit", "Scripting", "Blip2Core", "Tensor", "QFormer", "Shapes", "ViT",
                                                    "DecoderLM", "LinearBridge"],
                path: "Tests/EndToEndTests"),
    .testTarget(name: "HFTokenizerTests", dependencies: ["HFTokenizers", "Blip2Core"], path: "Tests/HFTokenizerTests",
                exclude: ["make_fixtures.py"], resources: [.copy("Fixtures")]),
    .testTarget(name: "Blip2CheckpointTests",
                dependencies: ["Blip2Checkpoints", "LabKit", "Scripting", "ViT", "QFormer", "DecoderLM", "EncoderDecoderLM",
                               "HFTokenizers", "Blip2Core", "Tensor"],
                path: "Tests/Blip2CheckpointTests", resources: [.copy("Fixtures")]),
    .testTarget(name: "QFormerTests", dependencies: ["QFormer", "Blip2Core", "Tensor"], path: "Tests/QFormerTests",
                resources: [.copy("Fixtures")]),
    .testTarget(name: "ImageFolderTests", dependencies: ["ImageFolder", "ImageIO", "Blip2Core"],
                path: "Tests/ImageFolderTests", exclude: ["make_fixtures.py"], resources: [.copy("Fixtures")]),
  ]
)
