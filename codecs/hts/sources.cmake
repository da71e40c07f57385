# codecs/hts: the htslib glue the genomics formats share.  OpenSSL (MD5 of
# the reference's contigs) is the engine's already.
pkg_check_modules(HTS REQUIRED IMPORTED_TARGET htslib)
file(GLOB SL_HTS_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(sluice_core PRIVATE ${SL_HTS_SOURCES})
target_link_libraries(sluice_core PUBLIC PkgConfig::HTS)
