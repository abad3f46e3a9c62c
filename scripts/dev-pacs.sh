#!/usr/bin/env bash
# Starts a throw-away Orthanc + DICOMweb on the example config's PACS ports (HTTP 8042 on loopback, DICOM 4242), for trying the gateway.
# Usage: bash scripts/dev-pacs.sh   (Ctrl-C stops it; data lives in .dev/orthanc and is kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh </dev/null
dir=.dev/orthanc
mkdir -p "$dir/db"
cat > "$dir/orthanc.json" <<JSON
{
  "Name": "pacs-gateway-dev", "StorageDirectory": "$PWD/$dir/db", "IndexDirectory": "$PWD/$dir/db",
  "HttpPort": 8042, "DicomPort": 4242, "DicomAet": "ORTHANC",
  "RemoteAccessAllowed": false, "AuthenticationEnabled": false,
  "DicomAlwaysAllowEcho": true, "DicomAlwaysAllowStore": true, "DicomAlwaysAllowFind": true,
  "DicomAlwaysAllowGet": true, "DicomAlwaysAllowMove": true,
  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true, "WadoRoot": "/wado" }
}
JSON
echo "dev PACS: Orthanc HTTP http://127.0.0.1:8042 (DICOMweb /dicom-web/), DICOM port 4242 AE ORTHANC. NOTE: Orthanc's DICOM port listens on every interface."
TCP_NODELAY=1 exec Orthanc "$dir/orthanc.json"
