#!/bin/sh
# GENERATED from tsunagu.shared.contracts.topics by deploy/k8s/generate_kafka.py.
# Do not edit: change the registry, then run
#   uv run python deploy/k8s/generate_kafka.py
# Run by compose's kafka-acls job as the broker's administrator; --add is idempotent.
set -eu
acls="/opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 --command-config /run/secrets/kafka_admin.properties"
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "intake.case.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "intake.contact.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "intake.referral_response.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "intake.staff.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Read --topic "intake.case.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "intake.case.v1.dlq" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Read --topic "routing.case.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "routing.case.v1.dlq" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Read --topic "food.v1" >/dev/null
$acls --add --allow-principal User:intake --operation Describe --operation Write --topic "food.v1.dlq" >/dev/null
$acls --add --allow-principal User:intake --operation Read --group "intake" >/dev/null
$acls --add --allow-principal User:intake --operation Read --group "intake-reports" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.case.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.notify.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.food.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.life_independence.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.adult_guardianship.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.welfare_fund.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.csw_outreach.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.csw_participation.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.elderly_support.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "routing.programme.disability_support.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Read --topic "intake.case.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "intake.case.v1.dlq" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Read --topic "intake.referral_response.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "intake.referral_response.v1.dlq" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Read --topic "intake.staff.v1" >/dev/null
$acls --add --allow-principal User:routing --operation Describe --operation Write --topic "intake.staff.v1.dlq" >/dev/null
$acls --add --allow-principal User:routing --operation Read --group "routing" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "notify.delivery.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "intake.contact.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "intake.contact.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "intake.staff.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "intake.staff.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.notify.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.notify.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.life_independence.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.life_independence.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.adult_guardianship.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.adult_guardianship.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.welfare_fund.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.welfare_fund.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.csw_outreach.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.csw_outreach.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.csw_participation.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.csw_participation.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.elderly_support.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.elderly_support.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "routing.programme.disability_support.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "routing.programme.disability_support.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Read --topic "food.v1" >/dev/null
$acls --add --allow-principal User:notify --operation Describe --operation Write --topic "food.v1.dlq" >/dev/null
$acls --add --allow-principal User:notify --operation Read --group "notify" >/dev/null
$acls --add --allow-principal User:food-distribution --operation Describe --operation Write --topic "food.v1" >/dev/null
$acls --add --allow-principal User:food-distribution --operation Describe --operation Read --topic "intake.staff.v1" >/dev/null
$acls --add --allow-principal User:food-distribution --operation Describe --operation Write --topic "intake.staff.v1.dlq" >/dev/null
$acls --add --allow-principal User:food-distribution --operation Describe --operation Read --topic "routing.food.v1" >/dev/null
$acls --add --allow-principal User:food-distribution --operation Describe --operation Write --topic "routing.food.v1.dlq" >/dev/null
$acls --add --allow-principal User:food-distribution --operation Read --group "food_distribution" >/dev/null
echo "ACLs applied"
