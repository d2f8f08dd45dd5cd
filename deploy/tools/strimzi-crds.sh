#!/usr/bin/env bash
# Regenerate deploy/k8s/crds/strimzi-<version>/ from Strimzi's API model on Maven Central.
#
# Strimzi builds its release CRDs with its own generator from the annotated API classes; this
# does the same with the published jars, so the schemas match the operator line we pin.
# Needs Maven and a Java 21+ runtime (JAVA_HOME, or the Temurin JDK under /usr/lib/jvm).
#
#   bash deploy/tools/strimzi-crds.sh [api-version] [generator-version]
set -euo pipefail

API_VERSION="${1:-0.51.0}"
GENERATOR_VERSION="${2:-1.2.0}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/deploy/k8s/crds/strimzi-$API_VERSION"

java_bin="${JAVA_HOME:+$JAVA_HOME/bin/java}"
if [ -z "$java_bin" ]; then
  java_bin="$(ls -d /usr/lib/jvm/temurin-2[1-9]*/bin/java 2>/dev/null | tail -n 1 || true)"
fi
[ -x "${java_bin:-}" ] || { echo "strimzi-crds: set JAVA_HOME to a Java 21+ runtime" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$GENERATOR_VERSION</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$API_VERSION</version></dependency>
  </dependencies>
</project>
POM
(cd "$work" && mvn -q dependency:build-classpath -Dmdep.outputFile=cp.txt)
# The API jar must win over the generator's own transitive copy of it.
api_jar="$HOME/.m2/repository/io/strimzi/api/$API_VERSION/api-$API_VERSION.jar"
classpath="$api_jar:$(tr ':' '\n' < "$work/cp.txt" | grep -v "/io/strimzi/api/" | paste -sd: -)"

mkdir -p "$OUT"
model=io.strimzi.api.kafka.model
"$java_bin" -cp "$classpath" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
  --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  "$model.kafka.Kafka=$work/kafkas.yaml" \
  "$model.nodepool.KafkaNodePool=$work/kafkanodepools.yaml" \
  "$model.topic.KafkaTopic=$work/kafkatopics.yaml" \
  "$model.user.KafkaUser=$work/kafkausers.yaml"

for plural in kafkas kafkanodepools kafkatopics kafkausers; do
  {
    echo "# CustomResourceDefinition of Strimzi $API_VERSION (kafka.strimzi.io, version v1 only), unmodified."
    echo "# Source: the API model io.strimzi:api:$API_VERSION (Maven Central, Apache-2.0), rendered by Strimzi's"
    echo "# own CRD generator io.strimzi:crd-generator:$GENERATOR_VERSION with the arguments of Strimzi's release build"
    echo "# (regenerate: deploy/tools/strimzi-crds.sh). Strimzi 1.x serves this v1 API with fields added"
    echo "# only. tests/deploy validates our Kafka resources against it."
    cat "$work/$plural.yaml"
  } > "$OUT/$plural.kafka.strimzi.io.yaml"
done
echo "wrote $OUT"
