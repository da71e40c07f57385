# codecs/vcf: VCF and BCF through htslib (with codecs/hts); it compresses
# BGZF blocks itself, on threads, with libdeflate (the library htslib uses);
# zlib inflates a gzipped head to sniff what it holds.
pkg_check_modules(HTS REQUIRED IMPORTED_TARGET htslib)
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
file(GLOB SL_VCF_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(sluice_core PRIVATE ${SL_VCF_SOURCES})
target_link_libraries(sluice_core PUBLIC PkgConfig::HTS PkgConfig::DEFLATE PkgConfig::ZLIB)
