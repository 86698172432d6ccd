global using Ksana.Wire;
global using Ksana.Scheduling.Schedules;
