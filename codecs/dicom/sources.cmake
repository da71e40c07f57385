# codecs/dicom: the DICOM format.  The tables generated from the standard
# (gen_table.py) are a library of their own, so that test tools (sl-dcmcheck)
# link them without the engine.  zlib: the deflated transfer syntax.
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
add_library(sl_dicom_table STATIC ${CMAKE_CURRENT_LIST_DIR}/table.c)
target_include_directories(sl_dicom_table PUBLIC ${PROJECT_SOURCE_DIR})
if(SL_FUZZ)
  target_compile_options(sl_dicom_table PRIVATE -fsanitize=fuzzer-no-link)
endif()
file(GLOB SL_DICOM_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(REMOVE_ITEM SL_DICOM_SOURCES ${CMAKE_CURRENT_LIST_DIR}/table.c)
target_sources(sluice_core PRIVATE ${SL_DICOM_SOURCES})
target_link_libraries(sluice_core PUBLIC sl_dicom_table PkgConfig::ZLIB)
