# codecs/slide: whole-slide images.  libtiff reads the input and writes the
# output, libjpeg-turbo and OpenJPEG decode and encode tiles, OpenSlide reads
# the slides only it can (test tools link libtiff and OpenJPEG too).
pkg_check_modules(TIFF REQUIRED IMPORTED_TARGET libtiff-4)
pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(OPENJP2 REQUIRED IMPORTED_TARGET libopenjp2)
pkg_check_modules(OPENSLIDE REQUIRED IMPORTED_TARGET openslide)
file(GLOB SL_SLIDE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(sluice_core PRIVATE ${SL_SLIDE_SOURCES})
target_link_libraries(sluice_core PUBLIC PkgConfig::TIFF PkgConfig::JPEG PkgConfig::OPENJP2
  PkgConfig::OPENSLIDE)
