"""The programme plug-ins: activities, delivery models, topic-choice and matching rules, costs."""
