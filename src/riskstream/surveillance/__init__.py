"""Surveillance: anti-money-laundering (AML) detection, threshold tuning and model governance.

- :mod:`~riskstream.surveillance.aml_data` — the transaction, account and label file
  formats, loaded with validation and quarantine;
- :mod:`~riskstream.surveillance.aml_generator` — a labelled generator of ordinary
  behaviour per segment plus injected laundering typologies;
- :mod:`~riskstream.surveillance.aml_features` — per-account features (rolling channel
  aggregates, transaction-graph features, amount patterns);
- :mod:`~riskstream.surveillance.aml_rules` — rule scenarios with per-segment thresholds;
- :mod:`~riskstream.surveillance.aml_model` — peer groups, decision tree, random forest and
  LightGBM, account scores, alerts at the tuned threshold and SHAP explanations;
- :mod:`~riskstream.surveillance.tuning` and :mod:`~riskstream.surveillance.tuning_report`
  — ATL/BTL tuning, review-sample sizes, metrics, sensitivity, the HTML tuning report;
- :mod:`~riskstream.surveillance.inventory` — the model inventory, model cards, the
  documentation checker and the approval workflow.

Layering: imports only ``core`` and ``store``; the CLI and the service compose it.
"""
