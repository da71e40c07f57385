# codecs/reads: aligned reads (SAM, BAM, CRAM) through htslib, with
# codecs/hts; zlib inflates a gzipped head to sniff what it holds.
pkg_check_modules(HTS REQUIRED IMPORTED_TARGET htslib)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
file(GLOB SL_READS_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(sluice_core PRIVATE ${SL_READS_SOURCES})
target_link_libraries(sluice_core PUBLIC PkgConfig::HTS PkgConfig::ZLIB)
