# Install rules and CPack: `cmake --install` and the release packages (scripts/release.sh).
#   .deb     /usr/bin/ttl-semlock (and ttl-semlock-raft), /etc/ttl-semlock/config.json (conffile),
#            /lib/systemd/system/ttl-semlock.service (Type=notify, MemoryMax=), a logrotate
#            snippet, the docs; postinst creates the ttl-semlock user and /var/lib/ttl-semlock.
#   .tar.gz  the same tree (usr/, etc/, lib/) to unpack under / or anywhere.
include(GNUInstallDirs)

# The container build's context leaves deploy/ and the documents out (.dockerignore): no packages
# from there.
foreach(needed deploy/systemd/ttl-semlock.service deploy/debian/config.json README.md LICENSE)
  if(NOT EXISTS ${PROJECT_SOURCE_DIR}/${needed})
    message(STATUS "Packaging: ${needed} is missing; no install rules or packages")
    return()
  endif()
endforeach()

install(TARGETS ttl-semlock RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
if(TARGET ttl-semlock-raft AND DEFINED SEMLOCK_RAFT_BIN)
  # The server starts the Raft sidecar from its own directory (cluster mode).
  install(PROGRAMS ${SEMLOCK_RAFT_BIN} DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
endif()

# The packaged unit is deploy/systemd/ttl-semlock.service with the package's paths and its own
# system user instead of a dynamic one (the package owns /var/lib/ttl-semlock).
file(READ ${PROJECT_SOURCE_DIR}/deploy/systemd/ttl-semlock.service semlock_unit)
string(REPLACE "/usr/local/bin/ttl-semlock" "/usr/bin/ttl-semlock" semlock_unit "${semlock_unit}")
string(REPLACE "DynamicUser=yes" "User=ttl-semlock\nGroup=ttl-semlock" semlock_unit "${semlock_unit}")
file(WRITE ${PROJECT_BINARY_DIR}/packaging/ttl-semlock.service "${semlock_unit}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/deploy/systemd/ttl-semlock.service)

install(FILES ${PROJECT_BINARY_DIR}/packaging/ttl-semlock.service
        DESTINATION /lib/systemd/system COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/config.json
        DESTINATION /etc/ttl-semlock COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/logrotate/ttl-semlock
        DESTINATION /etc/logrotate.d COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md
              ${PROJECT_SOURCE_DIR}/LICENSE
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT server)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT server FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/presets/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ttl-semlock/presets COMPONENT server)

set(CPACK_PACKAGE_NAME ttl-semlock)
set(CPACK_PACKAGE_VENDOR "ttl-semlock")
set(CPACK_PACKAGE_CONTACT "ttl-semlock maintainers <maintainers@ttl-semlock.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "TTL locks and counting semaphores over RESP, JSON lines and HTTP")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB TGZ)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Absolute destinations (/etc, /lib/systemd) land inside the archive too.
set(CPACK_SET_DESTDIR ON)
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_FILE_NAME
    "${CPACK_PACKAGE_NAME}_${PROJECT_VERSION}_${CMAKE_SYSTEM_PROCESSOR}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
