package dev.tessera.engine.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Tessera's kernels on one device: the fatbin that the build compiled with nvcc (SASS for sm_80 and
 * sm_90, PTX for newer GPUs) when it carries code for this GPU, else the same source compiled here
 * by NVRTC for the device's exact architecture. {@code TESSERA_CUDA_KERNELS=nvrtc} forces the NVRTC
 * path (to check it where a fatbin would load).
 */
final class KernelModule {
  static final String FATBIN = "tessera-kernels.fatbin";
  static final String SOURCE = "tessera-kernels.cu";

  private final CUmod_st module;
  private final String origin;
  private final Map<String, CUfunc_st> functions = new HashMap<>();

  private KernelModule(CUmod_st module, String origin) {
    this.module = module;
    this.origin = origin;
  }

  /** Loads the kernels for a device of compute capability {@code major.minor}. */
  static KernelModule load(int major, int minor) {
    boolean forceNvrtc = "nvrtc".equalsIgnoreCase(System.getenv("TESSERA_CUDA_KERNELS"));
    byte[] fatbin = forceNvrtc ? null : resource(FATBIN);
    String fatbinProblem = forceNvrtc ? "TESSERA_CUDA_KERNELS=nvrtc" : "no fatbin in this build";
    if (fatbin != null) {
      CUmod_st module = new CUmod_st();
      int status = cudart.cuModuleLoadData(module, new BytePointer(fatbin));
      if (status == 0) {
        return new KernelModule(module, "fatbin built by nvcc");
      }
      fatbinProblem = "the fatbin does not load: " + Cuda.driverError(status);
    }
    byte[] source = resource(SOURCE);
    if (source == null) {
      throw new CudaException(
          "no CUDA kernels: " + SOURCE + " is missing from the engine jar (" + fatbinProblem + ")",
          -1);
    }
    String arch = "sm_" + major + minor;
    byte[] cubin = compile(new String(source, StandardCharsets.UTF_8), arch);
    CUmod_st module = new CUmod_st();
    Cuda.checkDriver(
        cudart.cuModuleLoadData(module, new BytePointer(cubin)),
        "loading the NVRTC-compiled kernels for " + arch);
    return new KernelModule(module, "NVRTC for " + arch + " (" + fatbinProblem + ")");
  }

  /** Compiles the kernel source to a CUBIN for {@code arch} (e.g. sm_90). */
  static byte[] compile(String source, String arch) {
    _nvrtcProgram program = new _nvrtcProgram();
    Cuda.checkNvrtc(
        nvrtc.nvrtcCreateProgram(
            program,
            new BytePointer(source),
            new BytePointer(SOURCE),
            0,
            (PointerPointer<?>) null,
            (PointerPointer<?>) null),
        "creating the NVRTC program",
        null);
    try {
      String[] options = {"--gpu-architecture=" + arch, "--std=c++17", "-default-device"};
      int status =
          nvrtc.nvrtcCompileProgram(program, options.length, new PointerPointer<>(options));
      Cuda.checkNvrtc(status, "compiling " + SOURCE + " with NVRTC for " + arch, log(program));
      SizeTPointer size = new SizeTPointer(1);
      Cuda.checkNvrtc(nvrtc.nvrtcGetCUBINSize(program, size), "reading the CUBIN size", null);
      byte[] cubin = new byte[(int) size.get()];
      Cuda.checkNvrtc(nvrtc.nvrtcGetCUBIN(program, cubin), "reading the CUBIN", null);
      return cubin;
    } finally {
      nvrtc.nvrtcDestroyProgram(program);
    }
  }

  private static String log(_nvrtcProgram program) {
    SizeTPointer size = new SizeTPointer(1);
    if (nvrtc.nvrtcGetProgramLogSize(program, size) != 0 || size.get() <= 1) {
      return "";
    }
    byte[] text = new byte[(int) size.get()];
    nvrtc.nvrtcGetProgramLog(program, text);
    return new String(text, 0, text.length - 1, StandardCharsets.UTF_8);
  }

  private static byte[] resource(String name) {
    try (InputStream in = KernelModule.class.getResourceAsStream(name)) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + name + " from the engine jar", e);
    }
  }

  /** Where the loaded code came from (for logs). */
  String origin() {
    return origin;
  }

  /** The kernel called {@code name} (an {@code extern "C"} function of the sources). */
  synchronized CUfunc_st function(String name) {
    CUfunc_st function = functions.get(name);
    if (function == null) {
      function = new CUfunc_st();
      Cuda.checkDriver(
          cudart.cuModuleGetFunction(function, module, name), "looking up kernel " + name);
      functions.put(name, function);
    }
    return function;
  }
}
