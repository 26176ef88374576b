# Installation layout and the Debian package: `cpack -G DEB` in a build directory.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mmmamba/models
        OPTIONAL)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/recipes/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mmmamba/recipes
        PATTERN "data" EXCLUDE)
if(MM_BUILD_STUDIO)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/desktop/io.github.mmmamba.Studio.desktop
          DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/desktop/io.github.mmmamba.Studio.metainfo.xml
          DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
  install(FILES ${PROJECT_SOURCE_DIR}/resources/icons/mmmamba-studio.svg
          DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps RENAME io.github.mmmamba.Studio.svg)
endif()

set(CPACK_PACKAGE_NAME "mmmamba-studio")
set(CPACK_PACKAGE_VENDOR "mmMamba Studio")
set(CPACK_PACKAGE_CONTACT "mmMamba Studio developers <mmmamba@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Distil vision-language Transformers into linear-time Mamba-2 models")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the binaries' shared libraries (dpkg-shlibdeps)
# BLAS is picked at run time (LibTorch links the generic libblas), so dpkg-shlibdeps cannot name the fast one.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp | libopenblas0")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}
 mmMamba Studio seeds Mamba-2 layers from a Transformer's attention weights, distils linear and hybrid
 students in three stages with live curves, chats over images and benchmarks speed and memory against
 context length. Includes the mmmamba command-line tool and a small embedded demo model.")
include(CPack)
