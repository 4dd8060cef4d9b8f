# cmake -DINPUT=file -DOUTPUT=header -DNAME=symbol -P embed_text.cmake
# Writes the file's text as a C++ string constant.
file(READ ${INPUT} text)
file(WRITE ${OUTPUT} "// Generated from ${INPUT}; do not edit.\n#pragma once\ninline constexpr const char ${NAME}[] = R\"shoal_embed(${text})shoal_embed\";\n")
