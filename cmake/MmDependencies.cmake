# Finds the project's dependencies. Debian's split OpenCV -dev packages ship no CMake config or .pc,
# so core, imgproc and imgcodecs are found by hand.

find_package(Torch REQUIRED)
set_package_properties(Torch PROPERTIES TYPE REQUIRED PURPOSE "tensor engine (LibTorch)")
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)

if(MM_WITH_OPENCV)
  find_path(MM_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
  foreach(part core imgproc imgcodecs)
    find_library(MM_OPENCV_${part}_LIBRARY NAMES opencv_${part} REQUIRED)
  endforeach()
  add_library(mm_opencv INTERFACE)
  target_include_directories(mm_opencv SYSTEM INTERFACE ${MM_OPENCV_INCLUDE_DIR})
  target_link_libraries(mm_opencv INTERFACE ${MM_OPENCV_imgcodecs_LIBRARY} ${MM_OPENCV_imgproc_LIBRARY}
                                            ${MM_OPENCV_core_LIBRARY})
endif()
add_feature_info(opencv MM_WITH_OPENCV "image files and dynamic tiling")

if(MM_WITH_SENTENCEPIECE)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
endif()
add_feature_info(sentencepiece MM_WITH_SENTENCEPIECE "tokenizer.model support (dlopen'ed module)")

if(MM_BUILD_STUDIO)
  # PrintSupport is required by QCustomPlot's CMake package.
  find_package(Qt6 6.4 REQUIRED COMPONENTS Core Gui Widgets Concurrent PrintSupport)
  find_package(Qt6 6.4 QUIET COMPONENTS Svg)
  find_package(QCustomPlotQt6 REQUIRED)
  set_package_properties(QCustomPlotQt6 PROPERTIES TYPE REQUIRED PURPOSE "live plots in the studio")
endif()
add_feature_info(studio MM_BUILD_STUDIO "the mmmamba-studio desktop app (Qt 6 Widgets)")
add_feature_info(svg-export Qt6Svg_FOUND "SVG export of plots (qt6-svg-dev)")
if(MM_BUILD_TESTS)
  find_package(Qt6 6.4 REQUIRED COMPONENTS Core Test)
endif()
