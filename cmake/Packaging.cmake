# The Debian package (`cmake --build build --target package`):
# parley_<version>_amd64.deb with the server, the web client, a commented
# conffile, a hardened systemd unit, a man page and the Debian docs. The
# packaging sources are in deploy/debian; tests/package/check.sh checks the result.
include(GNUInstallDirs)

set(parley_deb_dir ${PROJECT_SOURCE_DIR}/deploy/debian)
set(parley_deb_out ${PROJECT_BINARY_DIR}/deb)
set(PARLEY_PACKAGE_MAINTAINER "Parley maintainers <parley@example.org>"
    CACHE STRING "Maintainer field of the Debian package")

install(TARGETS parley RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# What the server serves at /: not the READMEs nor the Node examples of the client library.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web-client/ DESTINATION ${CMAKE_INSTALL_DATADIR}/parley/web-client
        PATTERN "*.md" EXCLUDE PATTERN "examples" EXCLUDE)
# Absolute: /etc and /lib/systemd are not under the /usr prefix (Debian 12 units live in /lib).
install(FILES ${parley_deb_dir}/parley.conf DESTINATION /etc/parley)
install(FILES ${parley_deb_dir}/parley.service DESTINATION /lib/systemd/system)
install(FILES ${parley_deb_dir}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${parley_deb_dir}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME parley)

# The changelog, with the version from project(), compressed reproducibly
# (-n: no name, no time). The version has no Debian revision, so this is a
# native package, whose changelog lintian wants as changelog.gz.
configure_file(${parley_deb_dir}/changelog.in ${parley_deb_out}/changelog @ONLY)
add_custom_command(
  OUTPUT ${parley_deb_out}/changelog.gz
  COMMAND gzip -9nf -k ${parley_deb_out}/changelog
  DEPENDS ${parley_deb_out}/changelog
  VERBATIM)

# The man page, made from `parley --help` and `parley --version` so that it cannot drift from them.
find_program(HELP2MAN_PROGRAM help2man REQUIRED)
add_custom_command(
  OUTPUT ${parley_deb_out}/parley.1.gz
  COMMAND ${HELP2MAN_PROGRAM} --no-info --section=1 --source=Parley
          "--name=real-time messaging server of an expert-network platform"
          --include=${parley_deb_dir}/parley.h2m --output=${parley_deb_out}/parley.1 $<TARGET_FILE:parley>
  COMMAND gzip -9nf ${parley_deb_out}/parley.1
  DEPENDS parley ${parley_deb_dir}/parley.h2m
  COMMENT "Making the parley(1) man page from parley --help"
  VERBATIM)
add_custom_target(parley_deb_files ALL DEPENDS ${parley_deb_out}/parley.1.gz ${parley_deb_out}/changelog.gz)
install(FILES ${parley_deb_out}/parley.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${parley_deb_out}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME parley)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "${PARLEY_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # parley_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://parley.example.org/")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "real-time messaging server of an expert-network platform
Parley runs the engagements of an expert network: clients and experts chat,
post status updates, propose and decide changes of scope, timeline and
compensation, and every accepted decision is written to a hash-chained,
signed decision log. WebSocket and HTTP API on one port, an embedded SQLite
store or Redis for several instances, and the web client.")
# Depends from the binary's libraries (dpkg-shlibdeps), plus what the scripts run:
# openssl makes the signing key, procps has the kill of ExecReload, init-system-helpers enables the unit.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openssl, procps, init-system-helpers (>= 1.52)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${parley_deb_dir}/conffiles ${parley_deb_dir}/postinst ${parley_deb_dir}/prerm ${parley_deb_dir}/postrm)
include(CPack)
