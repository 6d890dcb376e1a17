# Databricks notebook source
# MAGIC %md
# MAGIC # Stand-in for mlops-stacks' MonitoredMetricViolationCheck
# MAGIC Decides whether the monitored metric broke its threshold and publishes the answer as the
# MAGIC task value `is_metric_violated`, which the job's condition task reads.

# COMMAND ----------

# DBTITLE 1,What the job passes (base_parameters)
print(env, table_name_under_monitor, metric_to_monitor, metric_violation_threshold)

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE TABLE IF NOT EXISTS metrics (name TEXT, value REAL);
# MAGIC DELETE FROM metrics;
# MAGIC INSERT INTO metrics VALUES ('root_mean_squared_error', 42.0), ('root_mean_squared_error', 250.0);
# MAGIC SELECT name, MAX(value) AS worst FROM metrics WHERE name = :metric_to_monitor GROUP BY name

# COMMAND ----------

# MAGIC %sh
# MAGIC echo "a shell cell runs too"

# COMMAND ----------

worst = _sqldf[0]["worst"]
violated = worst > float(metric_violation_threshold)

from nbflow import glue

glue("is_metric_violated", "true" if violated else "false")
